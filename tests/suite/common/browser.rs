//! A real browser for the web admin's tests: Debian's Chromium, headless, driven over
//! the DevTools protocol (a WebSocket: `Target`, `Page`, `Runtime`, `DOM` commands)
//! with no driver to download. One page per browser; JavaScript evaluated in it
//! fills forms, clicks and reads the page as a person would see it.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

pub struct Browser {
    child: Child,
    ws: tungstenite::WebSocket<TcpStream>,
    next: u64,
    session: String,
    _profile: tempfile::TempDir,
}

/// Where screenshots are kept for a person to look at after the tests.
pub fn screenshot_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    /// Starts Chromium headless with a fresh profile, one blank page attached.
    pub fn launch() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1280,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium runs (Debian package chromium, scripts/deps.sh)");
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("chromium says where DevTools listen")
                .unwrap();
            if let Some(at) = line.find("ws://") {
                break line[at..].trim().to_owned();
            }
        };
        // Its later messages are drained so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let host = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let stream = TcpStream::connect(&host).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let (ws, _) = tungstenite::client(url.as_str(), stream).expect("DevTools' WebSocket");
        let mut b = Browser {
            child,
            ws,
            next: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = b.command("Target.createTarget", json!({"url": "about:blank"}), false);
        let id = target["targetId"].as_str().unwrap().to_owned();
        let attached = b.command(
            "Target.attachToTarget",
            json!({"targetId": id, "flatten": true}),
            false,
        );
        b.session = attached["sessionId"].as_str().unwrap().to_owned();
        b.command("Page.enable", json!({}), true);
        b.command("Runtime.enable", json!({}), true);
        b
    }

    /// Sends a command (to the page with `on_page`) and returns its result.
    fn command(&mut self, method: &str, params: Value, on_page: bool) -> Value {
        self.try_command(method, params, on_page)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Sends a command and returns its result, or the error DevTools gave.
    fn try_command(&mut self, method: &str, params: Value, on_page: bool) -> Result<Value, Value> {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if on_page {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(tungstenite::Message::Text(msg.to_string().into()))
            .unwrap();
        loop {
            let m = self.ws.read().expect("DevTools answers");
            let tungstenite::Message::Text(t) = m else {
                continue;
            };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == json!(id) {
                if let Some(e) = v.get("error") {
                    return Err(e.clone());
                }
                return Ok(v["result"].clone());
            }
        }
    }

    /// The value of JavaScript `expr` in the page (promises awaited).
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.command(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
            true,
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expr}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Waits until `expr` is true in the page.
    pub fn wait_for(&mut self, expr: &str, what: &str) {
        let start = Instant::now();
        loop {
            // While a page is being replaced its document may be missing and its
            // context gone: either counts as "not yet".
            let check = format!(
                "(() => {{ try {{ return !!({expr}); }} catch (e) {{ return false; }} }})()"
            );
            let r = self.try_command(
                "Runtime.evaluate",
                json!({"expression": check, "returnByValue": true, "awaitPromise": true}),
                true,
            );
            if r.is_ok_and(|r| r["result"]["value"] == json!(true)) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{what}: never true ({expr}); the page says {}",
                self.text("body")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens `url` and waits for it to be loaded.
    pub fn goto(&mut self, url: &str) {
        self.command("Page.navigate", json!({"url": url}), true);
        self.wait_loaded(url);
    }

    fn wait_loaded(&mut self, what: &str) {
        std::thread::sleep(Duration::from_millis(50));
        self.wait_for("document.readyState === 'complete'", what);
    }

    /// Types `value` into the field `selector`.
    pub fn fill(&mut self, selector: &str, value: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({s}); e.value = {v}; return true; }})()",
            s = json!(selector),
            v = json!(value)
        );
        assert_eq!(self.eval(&js), json!(true), "{selector}");
    }

    /// Clicks `selector` (a submit button: waits for the next page).
    pub fn submit(&mut self, selector: &str) {
        self.submit_by(&format!("document.querySelector({})", json!(selector)));
    }

    /// Clicks the element JavaScript `element` finds, and waits for the next page.
    pub fn submit_by(&mut self, element: &str) {
        let before = self.eval("performance.timeOrigin");
        self.eval(&format!("({element}).click()"));
        let start = Instant::now();
        while self.eval("performance.timeOrigin") == before {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{element} led nowhere"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.wait_loaded(element);
    }

    /// The text of `selector` ("" when absent).
    pub fn text(&mut self, selector: &str) -> String {
        let js = format!(
            "(document.querySelector({}) || {{innerText: ''}}).innerText",
            json!(selector)
        );
        self.eval(&js).as_str().unwrap_or_default().to_owned()
    }

    pub fn path(&mut self) -> String {
        self.eval("location.pathname").as_str().unwrap().to_owned()
    }

    /// Puts `file` into the file input `selector`.
    pub fn choose_file(&mut self, selector: &str, file: &std::path::Path) {
        let r = self.command(
            "Runtime.evaluate",
            json!({"expression": format!("document.querySelector({})", json!(selector))}),
            true,
        );
        let object = r["result"]["objectId"].as_str().unwrap().to_owned();
        self.command(
            "DOM.setFileInputFiles",
            json!({"files": [file.display().to_string()], "objectId": object}),
            true,
        );
    }

    /// A PNG of the page as it is, kept as `name`.png in `screenshot_dir()`.
    pub fn screenshot(&mut self, name: &str) {
        let r = self.command("Page.captureScreenshot", json!({"format": "png"}), true);
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
