//! A form body or query string as name → values (repeated names kept, as
//! the conflict queue's bulk checkboxes need).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};

use crate::error::OfficeError;

#[derive(Clone, Debug, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(s: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(s)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed; `None` when absent or empty.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// A required reason or note (a revocation, a review, disabling a
    /// person): plain text of 1 to 500 characters.
    pub fn reason(&self, name: &str) -> Result<String, OfficeError> {
        let v = self.text(name).unwrap_or("");
        if v.is_empty() || v.chars().count() > 500 || v.chars().any(char::is_control) {
            return Err(OfficeError::BadInput(format!(
                "{name}: say why, in at most 500 characters (wajib diisi)"
            )));
        }
        Ok(v.to_owned())
    }

    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query string of a request; a value with a control character
    /// (NUL and the like, which no filter needs and PostgreSQL text cannot
    /// hold) is refused.
    pub fn query(uri: &axum::http::Uri) -> Result<Form, OfficeError> {
        Form::parse(uri.query().unwrap_or("").as_bytes()).checked()
    }

    fn checked(self) -> Result<Form, OfficeError> {
        match self.0.iter().find(|(_, v)| {
            v.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        }) {
            Some((k, _)) => Err(OfficeError::BadInput(format!(
                "{k}: control characters are not allowed"
            ))),
            None => Ok(self),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = OfficeError;

    async fn from_request(req: Request, state: &S) -> Result<Form, OfficeError> {
        let ct = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return Err(OfficeError::BadInput(
                "expected a form (application/x-www-form-urlencoded)".into(),
            ));
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| OfficeError::BadInput(format!("form body: {e}")))?;
        Form::parse(&body).checked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused() {
        assert!(Form::parse(b"a=x%00y").checked().is_err());
        assert!(Form::parse(b"a=line%0Anext").checked().is_ok());
    }

    #[test]
    fn repeated_names_and_encoding() {
        let f = Form::parse(b"id=a&id=b&c=%27%3B+DROP+TABLE+x%3B--&e=");
        assert_eq!(f.all("id").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(f.get("c"), Some("'; DROP TABLE x;--"));
        assert_eq!(f.text("e"), None);
        assert_eq!(f.get("missing"), None);
    }
}
