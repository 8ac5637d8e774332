//! The monitor's colours: a few palettes (`--theme`, `t` cycles them, the
//! config file keeps the choice) over one set of roles (header, dim text,
//! the guide's three rate levels, warnings, alarms, pinned and alerting
//! rows). Views ask for a role, never for a colour, so a theme is a table
//! here and nothing else. `--no-color` and `NO_COLOR` win over any theme:
//! then only bold, reverse video and underline mark things.

use ratatui::style::{Color, Modifier, Style};

/// One palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    pub name: &'static str,
    header: Color,
    dim: Color,
    /// The guide's rate levels: under 1 KB/s, to 100 KB/s, above.
    low: Color,
    mid: Color,
    high: Color,
    good: Color,
    warn: Color,
    alarm: Color,
    pinned: Color,
    /// Background of a row whose rate crossed its alert threshold.
    alert_bg: Color,
    alert_fg: Color,
}

/// The themes, in the order `t` cycles them (the names of
/// `netop_cli::THEMES`).
pub const PALETTES: [Palette; 5] = [
    Palette {
        name: "default",
        header: Color::Cyan,
        dim: Color::DarkGray,
        low: Color::Green,
        mid: Color::Yellow,
        high: Color::Red,
        good: Color::Green,
        warn: Color::Yellow,
        alarm: Color::Red,
        pinned: Color::Magenta,
        alert_bg: Color::Red,
        alert_fg: Color::White,
    },
    // For terminals with a light background: no yellow or light grey.
    Palette {
        name: "light",
        header: Color::Blue,
        dim: Color::Gray,
        low: Color::Green,
        mid: Color::Magenta,
        high: Color::Red,
        good: Color::Green,
        warn: Color::Magenta,
        alarm: Color::Red,
        pinned: Color::Blue,
        alert_bg: Color::LightRed,
        alert_fg: Color::Black,
    },
    Palette {
        name: "high-contrast",
        header: Color::White,
        dim: Color::Gray,
        low: Color::LightGreen,
        mid: Color::LightYellow,
        high: Color::LightRed,
        good: Color::LightGreen,
        warn: Color::LightYellow,
        alarm: Color::LightRed,
        pinned: Color::LightCyan,
        alert_bg: Color::LightRed,
        alert_fg: Color::Black,
    },
    // Colourless by choice: the same as NO_COLOR.
    Palette {
        name: "monochrome",
        header: Color::Reset,
        dim: Color::Reset,
        low: Color::Reset,
        mid: Color::Reset,
        high: Color::Reset,
        good: Color::Reset,
        warn: Color::Reset,
        alarm: Color::Reset,
        pinned: Color::Reset,
        alert_bg: Color::Reset,
        alert_fg: Color::Reset,
    },
    // iftop's look: plain text, rates without traffic-light colours.
    Palette {
        name: "classic",
        header: Color::White,
        dim: Color::Reset,
        low: Color::Reset,
        mid: Color::Reset,
        high: Color::Reset,
        good: Color::Reset,
        warn: Color::Yellow,
        alarm: Color::Red,
        pinned: Color::White,
        alert_bg: Color::Reset,
        alert_fg: Color::Reset,
    },
];

/// The index in [`PALETTES`] of a theme name (unknown names: the default;
/// the command line and the config file reject them first).
pub fn index_of(name: &str) -> usize {
    PALETTES.iter().position(|p| p.name == name).unwrap_or(0)
}

/// The styles drawing uses.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    /// False with `--no-color`/`NO_COLOR` or the monochrome theme.
    pub color: bool,
    palette: &'static Palette,
}

impl Theme {
    pub fn new(theme: usize, color: bool) -> Theme {
        let palette = &PALETTES[theme % PALETTES.len()];
        Theme {
            color: color && palette.name != "monochrome",
            palette,
        }
    }

    pub fn name(self) -> &'static str {
        self.palette.name
    }

    pub fn fg(self, color: Color) -> Style {
        if self.color && color != Color::Reset {
            Style::default().fg(color)
        } else {
            Style::default()
        }
    }

    pub fn header(self) -> Style {
        self.fg(self.palette.header).add_modifier(Modifier::BOLD)
    }

    pub fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub fn dim(self) -> Style {
        self.fg(self.palette.dim)
    }

    /// An "up", "answered" state.
    pub fn good(self) -> Style {
        self.fg(self.palette.good)
    }

    pub fn warn(self) -> Style {
        self.fg(self.palette.warn)
    }

    /// A "down", "failed" state.
    pub fn bad(self) -> Style {
        self.fg(self.palette.alarm)
    }

    pub fn alarm(self) -> Style {
        self.fg(self.palette.alarm).add_modifier(Modifier::BOLD)
    }

    /// The marker of a pinned row.
    pub fn pinned(self) -> Style {
        self.fg(self.palette.pinned).add_modifier(Modifier::BOLD)
    }

    /// A row above its alert threshold: coloured where there is colour,
    /// bold and underlined always.
    pub fn alert(self) -> Style {
        let base = Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
        if self.color && self.palette.alert_bg != Color::Reset {
            base.bg(self.palette.alert_bg).fg(self.palette.alert_fg)
        } else {
            base
        }
    }

    /// The guide's rate colours: under 1 KB/s, up to 100 KB/s, above.
    pub fn rate(self, bytes_per_sec: u64) -> Style {
        match bytes_per_sec {
            0..=999 => self.fg(self.palette.low),
            1_000..=100_000 => self.fg(self.palette.mid),
            _ => self.fg(self.palette.high),
        }
    }
}
