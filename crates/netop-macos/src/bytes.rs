//! Bounds-checked reads of the little-endian C structs macOS hands out
//! (every Mac, x86_64 and arm64, is little-endian), and the error every
//! decoder returns: a short or inconsistent record is a value, never a
//! panic.

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("{what}: {have} bytes, {need} needed")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("{what}: {why}")]
    Malformed { what: &'static str, why: String },
}

/// A struct's bytes, read field by field at their offsets.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    pub what: &'static str,
    pub data: &'a [u8],
}

impl<'a> Fields<'a> {
    /// `data` holding at least `size` bytes of the struct `what`.
    pub fn new(what: &'static str, data: &'a [u8], size: usize) -> Result<Self, LayoutError> {
        if data.len() < size {
            return Err(LayoutError::Truncated {
                what,
                need: size,
                have: data.len(),
            });
        }
        Ok(Fields { what, data })
    }

    fn array<const N: usize>(&self, at: usize) -> Result<[u8; N], LayoutError> {
        self.data
            .get(at..at + N)
            .and_then(|s| s.try_into().ok())
            .ok_or(LayoutError::Truncated {
                what: self.what,
                need: at + N,
                have: self.data.len(),
            })
    }

    pub fn u8(&self, at: usize) -> Result<u8, LayoutError> {
        Ok(self.array::<1>(at)?[0])
    }

    pub fn u16(&self, at: usize) -> Result<u16, LayoutError> {
        Ok(u16::from_le_bytes(self.array(at)?))
    }

    /// A `u_short` kept in network byte order (ports).
    pub fn be16(&self, at: usize) -> Result<u16, LayoutError> {
        Ok(u16::from_be_bytes(self.array(at)?))
    }

    pub fn u32(&self, at: usize) -> Result<u32, LayoutError> {
        Ok(u32::from_le_bytes(self.array(at)?))
    }

    pub fn i32(&self, at: usize) -> Result<i32, LayoutError> {
        Ok(i32::from_le_bytes(self.array(at)?))
    }

    pub fn u64(&self, at: usize) -> Result<u64, LayoutError> {
        Ok(u64::from_le_bytes(self.array(at)?))
    }

    /// 16 bytes (an `in6_addr`, or an `in4in6_addr` whose last 4 are the
    /// IPv4 address).
    pub fn addr16(&self, at: usize) -> Result<[u8; 16], LayoutError> {
        self.array(at)
    }

    /// A fixed-size C string field, up to its first NUL.
    pub fn c_str(&self, at: usize, len: usize) -> Result<String, LayoutError> {
        let field = self.data.get(at..at + len).ok_or(LayoutError::Truncated {
            what: self.what,
            need: at + len,
            have: self.data.len(),
        })?;
        let end = field.iter().position(|&b| b == 0).unwrap_or(len);
        Ok(String::from_utf8_lossy(&field[..end]).into_owned())
    }
}

/// Writes fields at offsets: the fixtures' side of [`Fields`].
#[derive(Debug, Clone)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn new(size: usize) -> Self {
        Writer(vec![0; size])
    }

    pub fn put(&mut self, at: usize, bytes: &[u8]) -> &mut Self {
        self.0[at..at + bytes.len()].copy_from_slice(bytes);
        self
    }

    pub fn u16(&mut self, at: usize, v: u16) -> &mut Self {
        self.put(at, &v.to_le_bytes())
    }

    pub fn u32(&mut self, at: usize, v: u32) -> &mut Self {
        self.put(at, &v.to_le_bytes())
    }

    pub fn u64(&mut self, at: usize, v: u64) -> &mut Self {
        self.put(at, &v.to_le_bytes())
    }

    pub fn str(&mut self, at: usize, max: usize, s: &str) -> &mut Self {
        let b = s.as_bytes();
        let n = b.len().min(max - 1);
        self.put(at, &b[..n])
    }
}
