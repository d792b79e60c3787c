//! What an image is, from its own bytes rather than from what the client
//! says: its type from the magic number (PNG, JPEG, GIF, WebP), and its
//! width and height from its header (PNG `IHDR`, JPEG `SOFn`, GIF logical
//! screen, WebP `VP8 `/`VP8L`/`VP8X`), for Bluesky's `aspectRatio`.

/// An image type both networks take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl Kind {
    pub fn mime_type(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Gif => "image/gif",
            Kind::Webp => "image/webp",
        }
    }

    pub fn from_mime_type(mime: &str) -> Option<Kind> {
        [Kind::Png, Kind::Jpeg, Kind::Gif, Kind::Webp]
            .into_iter()
            .find(|k| k.mime_type() == mime)
    }
}

/// The image's type by its magic number; `None`: not an image taken here.
pub fn sniff(bytes: &[u8]) -> Option<Kind> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Kind::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Kind::Jpeg)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(Kind::Gif)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(Kind::Webp)
    } else {
        None
    }
}

/// Width and height in pixels, read from the header; `None` when the
/// header cannot be read (a truncated or odd file: the image still goes
/// out, without an aspect ratio).
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let found = match sniff(bytes)? {
        Kind::Png => png(bytes),
        Kind::Jpeg => jpeg(bytes),
        Kind::Gif => gif(bytes),
        Kind::Webp => webp(bytes),
    }?;
    (found.0 > 0 && found.1 > 0).then_some(found)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(u32::from(s[0]) | u32::from(s[1]) << 8 | u32::from(s[2]) << 16)
}

/// The first chunk, `IHDR`: width and height as 32-bit big-endian.
fn png(b: &[u8]) -> Option<(u32, u32)> {
    (b.get(12..16)? == b"IHDR").then_some(())?;
    Some((be32(b, 16)?, be32(b, 20)?))
}

/// The first start-of-frame marker (SOF0–SOF15 but DHT, JPG and DAC):
/// height, then width, 16-bit big-endian after the precision byte.
fn jpeg(b: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    loop {
        // Markers may be padded with 0xFF.
        while *b.get(at)? == 0xFF && *b.get(at + 1)? == 0xFF {
            at += 1;
        }
        if *b.get(at)? != 0xFF {
            return None;
        }
        let marker = *b.get(at + 1)?;
        match marker {
            // Standalone markers: no length.
            0x01 | 0xD0..=0xD7 => {
                at += 2;
                continue;
            }
            0xD9 | 0xDA => return None,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return Some((be16(b, at + 7)?, be16(b, at + 5)?));
            }
            _ => {}
        }
        let length = be16(b, at + 2)? as usize;
        if length < 2 {
            return None;
        }
        at += 2 + length;
    }
}

/// The logical screen: width and height, 16-bit little-endian.
fn gif(b: &[u8]) -> Option<(u32, u32)> {
    Some((le16(b, 6)?, le16(b, 8)?))
}

/// The first chunk after `WEBP`: lossy (`VP8 `), lossless (`VP8L`) or
/// extended (`VP8X`).
fn webp(b: &[u8]) -> Option<(u32, u32)> {
    match b.get(12..16)? {
        b"VP8 " => {
            // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit sizes.
            (b.get(23..26)? == [0x9d, 0x01, 0x2a]).then_some(())?;
            Some((le16(b, 26)? & 0x3FFF, le16(b, 28)? & 0x3FFF))
        }
        b"VP8L" => {
            (*b.get(20)? == 0x2f).then_some(())?;
            let bits = u32::from_le_bytes(b.get(21..25)?.try_into().ok()?);
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => Some((le24(b, 24)? + 1, le24(b, 27)? + 1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3×2 PNG header (the rest of the file is not read).
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend(w.to_be_bytes());
        b.extend(h.to_be_bytes());
        b.extend([8, 6, 0, 0, 0]);
        b
    }

    #[test]
    fn the_type_comes_from_the_bytes() {
        assert_eq!(sniff(&png_header(1, 1)), Some(Kind::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Kind::Jpeg));
        assert_eq!(sniff(b"GIF89a\x01\x00\x01\x00"), Some(Kind::Gif));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Kind::Webp));
        assert_eq!(sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(Kind::from_mime_type("image/webp"), Some(Kind::Webp));
    }

    #[test]
    fn sizes_are_read_from_each_header() {
        assert_eq!(dimensions(&png_header(1200, 675)), Some((1200, 675)));
        // JPEG: SOI, an APP0 segment, then SOF0 (height 480, width 640).
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00];
        jpeg.extend([0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0xE0, 0x02, 0x80, 0x03]);
        assert_eq!(dimensions(&jpeg), Some((640, 480)));
        // A DHT before the frame is skipped, not taken for it.
        let mut dht = vec![0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x03, 0x00];
        dht.extend([0xFF, 0xC2, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x20, 0x03]);
        assert_eq!(dimensions(&dht), Some((32, 16)));
        assert_eq!(
            dimensions(b"GIF89a\x40\x01\xf0\x00\xf7\x00\x00"),
            Some((320, 240))
        );
        let mut vp8x = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
        vp8x.extend([0x7F, 0x02, 0x00, 0xDF, 0x01, 0x00]);
        assert_eq!(dimensions(&vp8x), Some((640, 480)));
        let mut vp8l = b"RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2f".to_vec();
        // width-1 = 99, height-1 = 49: 99 | 49 << 14.
        vp8l.extend((99u32 | 49 << 14).to_le_bytes());
        assert_eq!(dimensions(&vp8l), Some((100, 50)));
        let mut vp8 = b"RIFF\0\0\0\0WEBPVP8 \0\0\0\0\0\0\0\x9d\x01\x2a".to_vec();
        vp8.extend([0x20, 0x03, 0x58, 0x02]);
        assert_eq!(dimensions(&vp8), Some((800, 600)));
    }

    #[test]
    fn an_unreadable_header_gives_no_size() {
        assert_eq!(dimensions(b"\x89PNG\r\n\x1a\nnot a chunk"), None);
        assert_eq!(dimensions(&png_header(0, 10)), None);
        assert_eq!(dimensions(&[0xFF, 0xD8, 0xFF]), None);
        assert_eq!(dimensions(b"nothing"), None);
    }
}
