//! The bookkeeping of the demo: what each request must lead to, the checks, and the verdict.

use std::io::{self, Write};

use reqwest::Method;
use tollgate_mock::MockAuthServer;
use tollgate_mock::testing::Answer;

use super::client::{send, why};
use super::{DemoError, Report};

/// What a request must lead to.
#[derive(Debug, Clone, Copy)]
pub(super) struct Expect {
    status: u16,
    error: Option<&'static str>,
    introspections: Option<usize>,
    jwks: Option<usize>,
    note: &'static str,
}

impl Expect {
    pub(super) fn status(status: u16) -> Self {
        Self {
            status,
            error: None,
            introspections: None,
            jwks: None,
            note: "",
        }
    }

    /// The `error` code of the challenge or body.
    pub(super) fn error(mut self, code: &'static str) -> Self {
        self.error = Some(code);
        self
    }

    /// Exactly this many introspection calls reach the AS during the request.
    pub(super) fn introspections(mut self, calls: usize) -> Self {
        self.introspections = Some(calls);
        self
    }

    /// Exactly this many JWKS fetches reach the AS during the request.
    pub(super) fn jwks(mut self, fetches: usize) -> Self {
        self.jwks = Some(fetches);
        self
    }

    /// Why an accepted request was accepted, in the story's words.
    pub(super) fn note(mut self, note: &'static str) -> Self {
        self.note = note;
        self
    }
}

/// The story's state: where to send requests, the AS to watch, and the results so far.
pub(super) struct Story<'a, W: Write> {
    pub(super) out: &'a mut W,
    pub(super) client: reqwest::Client,
    pub(super) api: String,
    pub(super) mock: MockAuthServer,
    step: usize,
    checks: usize,
    failures: Vec<String>,
}

impl<'a, W: Write> Story<'a, W> {
    pub(super) fn new(
        out: &'a mut W,
        client: reqwest::Client,
        api: String,
        mock: MockAuthServer,
    ) -> Self {
        Self {
            out,
            client,
            api,
            mock,
            step: 0,
            checks: 0,
            failures: Vec::new(),
        }
    }

    pub(super) fn into_results(self) -> (usize, Vec<String>) {
        (self.checks, self.failures)
    }

    /// A numbered step: a title and a few lines of explanation.
    pub(super) fn step(&mut self, title: &str, explanation: &str) -> io::Result<()> {
        self.step += 1;
        writeln!(self.out)?;
        writeln!(self.out, "{}. {title}", self.step)?;
        for line in explanation.lines() {
            writeln!(self.out, "   {line}")?;
        }
        Ok(())
    }

    /// Something that happens at the AS, outside HTTP.
    pub(super) fn action(&mut self, what: &str) -> io::Result<()> {
        writeln!(self.out, "   > {what}")
    }

    /// Sends a request to the API and checks the answer against `expect`.
    pub(super) async fn request(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&str>,
        expect: Expect,
    ) -> Result<Answer, DemoError> {
        let (introspections, jwks) = (self.mock.introspection_count(), self.mock.jwks_fetches());
        let url = format!("{}{path}", self.api);
        let observed = send(&self.client, method.clone(), &url, token).await?;
        let introspected = self
            .mock
            .introspection_count()
            .saturating_sub(introspections);
        let fetched = self.mock.jwks_fetches().saturating_sub(jwks);

        let mut problems = Vec::new();
        if observed.status != expect.status {
            problems.push(format!("expected status {}", expect.status));
        }
        if let Some(code) = expect.error
            && !why(&observed).starts_with(code)
        {
            problems.push(format!("expected error {code}"));
        }
        if let Some(calls) = expect.introspections
            && introspected != calls
        {
            problems.push(format!(
                "expected {calls} introspection call(s), the AS saw {introspected}"
            ));
        }
        if let Some(fetches) = expect.jwks
            && fetched != fetches
        {
            problems.push(format!(
                "expected {fetches} JWKS fetch(es), the AS saw {fetched}"
            ));
        }

        let why = if (200..300).contains(&observed.status) {
            expect.note.to_owned()
        } else {
            why(&observed)
        };
        let mut counts = format!("introspect +{introspected}");
        if expect.jwks.is_some() || fetched > 0 {
            counts.push_str(&format!(" jwks +{fetched}"));
        }
        let line = format!(
            "{method} {path} -> {} {}",
            observed.status,
            observed.reason()
        );
        self.record(&line, &why, &counts, problems)?;
        Ok(observed)
    }

    /// Prints one checked line and remembers a failure.
    pub(super) fn record(
        &mut self,
        line: &str,
        why: &str,
        counts: &str,
        problems: Vec<String>,
    ) -> io::Result<()> {
        self.checks += 1;
        let verdict = if problems.is_empty() { "ok  " } else { "FAIL" };
        let text = format!("   {verdict} {line:<42} {counts:<21} {why}");
        writeln!(self.out, "{}", text.trim_end())?;
        if !problems.is_empty() {
            let problems = problems.join("; ");
            writeln!(self.out, "        ^ {problems}")?;
            self.failures
                .push(format!("step {}, {line}: {problems}", self.step));
        }
        Ok(())
    }

    /// A check on something other than a status line.
    pub(super) fn check(&mut self, ok: bool, what: &str) -> io::Result<()> {
        let problems = if ok {
            Vec::new()
        } else {
            vec![format!("expected: {what}")]
        };
        self.record(what, "", "", problems)
    }
}

/// The closing lines: what the AS saw, and the verdict.
pub(super) fn summary(out: &mut impl Write, report: &Report) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "The authorization server saw {} introspection calls and {} JWKS fetches.",
        report.introspection_calls(),
        report.jwks_fetches()
    )?;
    if report.succeeded() {
        writeln!(out, "All {} checks behaved as expected.", report.checks())
    } else {
        writeln!(
            out,
            "{} of {} checks did NOT behave as expected:",
            report.failures().len(),
            report.checks()
        )?;
        for failure in report.failures() {
            writeln!(out, "  - {failure}")?;
        }
        Ok(())
    }
}
