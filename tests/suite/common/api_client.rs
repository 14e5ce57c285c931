//! The tests' client of the HTTP API: requests over a plain socket, keys made with
//! `pbx api-key add`, the live events' WebSocket.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

use super::call_helpers::pbx_admin;

/// One HTTP/1.1 request (the connection closes after it): status and body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let body = body.unwrap_or("");
    let kind = (!body.is_empty()).then_some("application/json");
    http_bytes(addr, (method, path), key, kind, body.as_bytes())
}

/// A request with a body of `kind`: status and body.
pub fn http_bytes(
    addr: SocketAddr,
    (method, path): (&str, &str),
    key: Option<&str>,
    kind: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(k) = key {
        req.push_str(&format!("Authorization: Bearer {k}\r\n"));
    }
    if let Some(kind) = kind {
        req.push_str(&format!("Content-Type: {kind}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

pub fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// `pbx api-key add` with `args`: the key it prints.
pub fn key(dir: &std::path::Path, args: &[&str]) -> String {
    let mut all = vec!["api-key", "add"];
    all.extend_from_slice(args);
    let out = pbx_admin(dir, &all);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A WebSocket on `/api/v1/events` with `key`; reads time out after `wait`.
pub fn events(api: SocketAddr, key: &str) -> tungstenite::WebSocket<TcpStream> {
    let stream = TcpStream::connect(api).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let url = format!("ws://{api}/api/v1/events?key={key}");
    let (ws, _) = tungstenite::client(url.as_str(), stream).expect("the WebSocket opens");
    ws
}

/// The events read until `stop` says enough or reads time out `idle` times in a row.
pub fn read_events(
    ws: &mut tungstenite::WebSocket<TcpStream>,
    stop: impl Fn(&Value) -> bool,
    idle: u32,
) -> Vec<Value> {
    let mut got = Vec::new();
    let mut quiet = 0;
    while quiet < idle {
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => {
                quiet = 0;
                let v = json(t.as_str());
                let done = stop(&v);
                got.push(v);
                if done {
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => quiet += 1,
        }
    }
    got
}

/// A request whose body is JSON `v`: status and the body as JSON (null when empty).
pub fn send(api: SocketAddr, method: &str, path: &str, key: &str, v: Value) -> (u16, Value) {
    let (code, body) = http(api, method, path, Some(key), Some(&v.to_string()));
    let body = if body.trim().is_empty() {
        Value::Null
    } else {
        json(&body)
    };
    (code, body)
}

pub fn get(api: SocketAddr, path: &str, key: &str) -> (u16, Value) {
    let (code, body) = http(api, "GET", path, Some(key), None);
    (code, json(&body))
}
