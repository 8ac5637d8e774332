# Homebrew formula for netop. The version is Cargo.toml's (`cargo xtask
# check` fails when the url states another); `cargo xtask dist --source`
# makes the release tarball and writes its sha256 below (RELEASING.md).
class Netop < Formula
  desc "Per-process network traffic monitor"
  homepage "https://example.invalid/netop"
  url "https://example.invalid/netop/releases/download/v0.1.0/netop-0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license any_of: ["MIT", "Apache-2.0"]

  depends_on "rust" => :build

  on_linux do
    depends_on "libpcap"
  end

  def install
    system "cargo", "install", *std_cargo_args(path: "crates/netop")
    man1.install "packaging/man/netop.1"
    bash_completion.install "packaging/completions/netop.bash" => "netop"
    zsh_completion.install "packaging/completions/_netop"
    fish_completion.install "packaging/completions/netop.fish"
  end

  def caveats
    <<~EOS
      netop captures packets: run it with sudo, or on Linux give the binary
      the capabilities (see `man netop`, PERMISSIONS).
    EOS
  end

  test do
    assert_match "netop #{version}", shell_output("#{bin}/netop --version")
    assert_match "--format", shell_output("#{bin}/netop --completions bash")
    assert_match "--duration", shell_output("#{bin}/netop --help")
    # An invalid command line exits 2 with one line, before any capture.
    shell_output("#{bin}/netop --duration 0 2>&1", 2)
  end
end
