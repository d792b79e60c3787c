//! `multipart/form-data` (RFC 7578), for the forms that upload a file (the
//! subscriber CSV import). Small on purpose: the whole body is read first,
//! up to a limit, then split at its boundary. Text fields become a [`Form`]
//! (so the CSRF check is the same as for every other form); file parts are
//! kept apart, as bytes.

use super::page::Form;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart {
    /// The form field's name.
    pub field: String,
    /// The name the browser gave (may be empty: no file chosen).
    pub filename: String,
    pub data: Vec<u8>,
}

/// A body read and split: its text fields and its files.
#[derive(Debug, Default)]
pub struct Upload {
    pub form: Form,
    pub files: Vec<FilePart>,
}

impl Upload {
    /// The file sent in `field`, if one was chosen (a browser sends an empty
    /// part with an empty filename when none was).
    pub fn file(&self, field: &str) -> Option<&FilePart> {
        self.files
            .iter()
            .find(|f| f.field == field && !(f.filename.is_empty() && f.data.is_empty()))
    }
}

/// Why a body could not be read as a form.
#[derive(Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Longer than the limit: nothing past it was read.
    TooLarge,
    /// Not multipart/form-data nor urlencoded, or broken.
    Malformed,
}

/// Reads a request body of at most `limit` bytes. A longer one is read on
/// to its end without being kept (so the browser, still sending, gets the
/// answer rather than a reset connection), up to 16 times the limit.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, Unreadable> {
    let mut body = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Unreadable::Malformed)?;
        seen += chunk.len();
        if seen > limit {
            if seen > limit.saturating_mul(16) {
                break;
            }
            body = Vec::new();
            continue;
        }
        body.extend_from_slice(&chunk);
    }
    if seen > limit {
        return Err(Unreadable::TooLarge);
    }
    Ok(body)
}

/// The body as a form: multipart/form-data when the request says so, else
/// urlencoded (a form without a file input, or a test posting plain fields).
pub fn parse(req: &HttpRequest, body: &[u8]) -> Result<Upload, Unreadable> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "multipart/form-data" {
        return Ok(Upload {
            form: Form::parse(body),
            files: Vec::new(),
        });
    }
    let boundary = parameter(content_type, "boundary").ok_or(Unreadable::Malformed)?;
    split(body, &boundary)
}

/// A parameter of a header value (`boundary=…`, `name="…"`), unquoted.
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        if !k.trim().eq_ignore_ascii_case(name) {
            return None;
        }
        let v = v.trim();
        Some(
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
                .to_owned(),
        )
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Splits a multipart body at its boundary (RFC 2046 §5.1.1).
pub fn split(body: &[u8], boundary: &str) -> Result<Upload, Unreadable> {
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(Unreadable::Malformed);
    }
    let first = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    let start = find(body, first.as_bytes()).ok_or(Unreadable::Malformed)?;
    let mut rest = &body[start + first.len()..];
    let mut upload = Upload::default();
    loop {
        // After a delimiter: "--" ends the body, else the line ends.
        if rest.starts_with(b"--") {
            return Ok(upload);
        }
        let line_end = find(rest, b"\r\n").ok_or(Unreadable::Malformed)?;
        rest = &rest[line_end + 2..];
        let headers_end = find(rest, b"\r\n\r\n").ok_or(Unreadable::Malformed)?;
        let headers =
            std::str::from_utf8(&rest[..headers_end]).map_err(|_| Unreadable::Malformed)?;
        rest = &rest[headers_end + 4..];
        let end = find(rest, delimiter.as_bytes()).ok_or(Unreadable::Malformed)?;
        let data = &rest[..end];
        rest = &rest[end + delimiter.len()..];
        let disposition = headers
            .split("\r\n")
            .find_map(|h| {
                let (k, v) = h.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-disposition")
                    .then(|| v.trim().to_owned())
            })
            .ok_or(Unreadable::Malformed)?;
        let name = parameter(&disposition, "name").ok_or(Unreadable::Malformed)?;
        match parameter(&disposition, "filename") {
            Some(filename) => upload.files.push(FilePart {
                field: name,
                filename,
                data: data.to_vec(),
            }),
            None => {
                let text = String::from_utf8(data.to_vec()).map_err(|_| Unreadable::Malformed)?;
                upload.form.0.push((name, text));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, Option<&str>, &[u8])], boundary: &str) -> Vec<u8> {
        let mut b = Vec::new();
        for (name, filename, data) in parts {
            b.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match filename {
                Some(f) => b.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => b.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        b
    }

    #[test]
    fn text_fields_and_files_are_told_apart() {
        let csv = b"email,name\r\nana@example.org,Ana\r\n";
        let b = body(
            &[
                ("csrf", None, b"abc"),
                ("source", None, "Fòrum 2020".as_bytes()),
                ("file", Some("list.csv"), csv),
            ],
            "----xyz",
        );
        let up = split(&b, "----xyz").unwrap();
        assert_eq!(up.form.get("csrf"), Some("abc"));
        assert_eq!(up.form.get("source"), Some("Fòrum 2020"));
        let f = up.file("file").unwrap();
        assert_eq!(f.filename, "list.csv");
        // The file's own line ends are kept; only the delimiter's CRLF goes.
        assert_eq!(f.data, csv);
    }

    #[test]
    fn an_empty_file_input_is_no_file() {
        let b = body(&[("file", Some(""), b"")], "b");
        let up = split(&b, "b").unwrap();
        assert!(up.file("file").is_none());
        assert_eq!(up.files.len(), 1);
    }

    #[test]
    fn a_body_that_does_not_end_is_malformed() {
        let mut b = body(&[("csrf", None, b"abc")], "b");
        b.truncate(b.len() - 10);
        assert_eq!(split(&b, "b").unwrap_err(), Unreadable::Malformed);
        assert_eq!(split(b"no parts", "b").unwrap_err(), Unreadable::Malformed);
        assert_eq!(split(b"--b\r\n", "").unwrap_err(), Unreadable::Malformed);
    }

    #[test]
    fn a_boundary_inside_a_line_is_not_a_delimiter() {
        // "--b" not at a line start is data.
        let b = body(&[("file", Some("x.csv"), b"a--b,c")], "b");
        let up = split(&b, "b").unwrap();
        assert_eq!(up.file("file").unwrap().data, b"a--b,c");
    }

    #[test]
    fn quoted_and_bare_parameters_are_read() {
        assert_eq!(
            parameter("multipart/form-data; boundary=abc", "boundary").as_deref(),
            Some("abc")
        );
        assert_eq!(
            parameter("multipart/form-data; BOUNDARY=\"a b\"", "boundary").as_deref(),
            Some("a b")
        );
        assert_eq!(parameter("text/plain", "boundary"), None);
    }
}
