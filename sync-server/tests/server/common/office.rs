//! A browser-like client of the office pages for tests: real HTTP, cookies
//! kept by hand, the CSRF token read from the page, redirects not followed
//! (so a test sees each 303).

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;

pub struct OfficeClient {
    pub base: String,
    pub http: reqwest::Client,
    /// `name=value` of every cookie the server set and has not cleared.
    pub cookies: Vec<(String, String)>,
    /// The session's CSRF token, read from the last page fetched.
    pub csrf: String,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

/// The value of the first `name="csrf" value="…"` in `html`.
pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_owned())
}

impl OfficeClient {
    pub fn new(base: &str) -> OfficeClient {
        OfficeClient {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client"),
            cookies: Vec::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn take(&mut self, resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for c in &set_cookies {
            let first = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = first.split_once('=') {
                self.cookies.retain(|(name, _)| name != k);
                if !v.is_empty() {
                    self.cookies.push((k.to_owned(), v.to_owned()));
                }
            }
        }
        let body = resp.text().await.unwrap_or_default();
        if let Some(t) = csrf_of(&body) {
            self.csrf = t;
        }
        Page {
            status,
            location,
            set_cookies,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.take(resp).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("POST");
        self.take(resp).await
    }

    /// A file upload as the page's form sends it (multipart: the session's
    /// CSRF token and `file`).
    pub async fn upload(&mut self, path: &str, file_name: &str, content: &str) -> Page {
        let boundary = "sentra-test-boundary-41c9";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
             Content-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n",
            self.csrf
        );
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("POST");
        self.take(resp).await
    }

    /// Signs in; returns the answer to the POST.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/office/signin").await;
        assert_eq!(form.status, 200, "sign-in form");
        let csrf = self.csrf.clone();
        self.post(
            "/office/signin",
            &[
                ("csrf", &csrf),
                ("email", email),
                ("password", password),
                ("next", "/office"),
            ],
        )
        .await
    }

    /// Signs in and fetches the overview (which holds the session's token).
    pub async fn signed_in(base: &str, email: &str, password: &str) -> OfficeClient {
        let mut c = OfficeClient::new(base);
        let p = c.sign_in(email, password).await;
        assert_eq!(p.status, 303, "sign-in of {email}: {}", p.body);
        let o = c.get("/office").await;
        assert_eq!(o.status, 200, "overview: {}", o.body);
        c
    }
}

/// Adds an office user.
pub async fn add_user(pool: &sqlx::PgPool, email: &str, role: &str, branches: &[&str], pw: &str) {
    let branches: Vec<String> = branches.iter().map(|b| (*b).to_owned()).collect();
    sentra_office::users::add(pool, email, role, &branches, pw)
        .await
        .expect("office user");
}
