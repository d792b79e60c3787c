//! Quoted-printable (RFC 2045 6.7) for bodies encoded once and assembled
//! from fragments: each fragment is encoded on its own, starting at column 0,
//! and ends with a line break (hard, if the text ended with one; soft
//! otherwise) so fragments can be concatenated in any order and the result
//! is still valid quoted-printable whose decoding is the concatenated text.

/// Longest encoded line, soft-break `=` included (RFC 2045: 76).
const MAX_LINE: usize = 76;
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `text` encoded, with `\n` and `\r\n` as line breaks (CRLF on the
/// wire). Empty text appends nothing.
pub fn encode_fragment(text: &str, out: &mut Vec<u8>) {
    if text.is_empty() {
        return;
    }
    out.reserve(text.len() + text.len() / 8);
    let bytes = text.as_bytes();
    let mut column = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let line_break = match b {
            b'\n' => Some(1),
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => Some(2),
            _ => None,
        };
        if let Some(width) = line_break {
            out.extend_from_slice(b"\r\n");
            column = 0;
            i += width;
            continue;
        }
        // Whitespace is literal unless it ends a line or the text.
        let at_line_end = match bytes.get(i + 1) {
            None | Some(b'\n') => true,
            Some(b'\r') => bytes.get(i + 2) == Some(&b'\n'),
            _ => false,
        };
        let literal = match b {
            b' ' | b'\t' => !at_line_end,
            b'=' => false,
            33..=126 => true,
            _ => false,
        };
        let width = if literal { 1 } else { 3 };
        // Room for this and a soft break after it.
        if column + width > MAX_LINE - 1 {
            out.extend_from_slice(b"=\r\n");
            column = 0;
        }
        if literal {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
        column += width;
        i += 1;
    }
    if column > 0 {
        out.extend_from_slice(b"=\r\n");
    }
}

/// The whole body: fragments as above, without the soft break that would
/// otherwise end it.
pub fn finish(mut encoded: Vec<u8>) -> Vec<u8> {
    if encoded.ends_with(b"=\r\n") {
        encoded.truncate(encoded.len() - 3);
    }
    encoded
}

#[cfg(test)]
pub(crate) fn decode(encoded: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < encoded.len() {
        match encoded[i] {
            b'=' if encoded[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' => {
                let hex = std::str::from_utf8(&encoded[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'\r' if encoded[i + 1..].starts_with(b"\n") => {
                out.push(b'\n');
                i += 2;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(pieces: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in pieces {
            encode_fragment(piece, &mut out);
        }
        finish(out)
    }

    fn valid(encoded: &[u8]) {
        assert!(encoded.is_ascii());
        let text = std::str::from_utf8(encoded).unwrap();
        for line in text.split("\r\n") {
            assert!(line.len() <= MAX_LINE, "{} > 76: {line:?}", line.len());
            assert!(!line.contains('\r') && !line.contains('\n'));
            assert!(!line.ends_with(' ') && !line.ends_with('\t'), "{line:?}");
        }
    }

    #[test]
    fn fragments_decode_to_their_concatenation() {
        let long = "x".repeat(300);
        let accents = "é".repeat(100);
        let cases: &[&[&str]] = &[
            &["Hello ", "Ana", ",\n\nBody = text.\n"],
            &["Hola ", "José Ñúñez 🎉", "\r\ntrailing space \nand tab\t\n"],
            &[&long, "=", &long, "\n"],
            &["", "only", ""],
            &["ends without newline "],
            &[&accents],
        ];
        for pieces in cases {
            let out = encoded(pieces);
            valid(&out);
            let expected = pieces.concat().replace("\r\n", "\n");
            assert_eq!(String::from_utf8(decode(&out)).unwrap(), expected);
        }
    }

    #[test]
    fn plain_text_stays_readable() {
        assert_eq!(
            encoded(&["Hi = you\n", "end"]),
            b"Hi =3D you\r\nend".to_vec()
        );
        assert_eq!(encoded(&["a \n"]), b"a=20\r\n".to_vec());
        assert_eq!(encoded(&["a", "b"]), b"a=\r\nb".to_vec());
    }
}
