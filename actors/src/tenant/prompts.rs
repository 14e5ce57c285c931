//! A tenant's announcements (IVR menus, closing-time messages): WAV files uploaded
//! with `pbx prompt add`, kept as `DATA_DIR/sounds/TENANT/prompts/NAME.wav` (mono
//! 8 kHz 16-bit PCM, checked before anything is stored). The plan names them; a name
//! the tenant has no file for is one of the switch's built-in prompts (`sounds`), and
//! a plan naming neither is refused when it is saved.

use std::path::{Path, PathBuf};

use dialplan::TenantPlan;
use media::wav::Announcement;

use crate::{Error, Result};

/// Where a tenant's prompts live.
pub fn dir(data_dir: &Path, tenant: &str) -> PathBuf {
    data_dir.join("sounds").join(tenant).join("prompts")
}

/// A prompt's name as the plan writes it, without a `.wav` ending.
pub fn name_of(reference: &str) -> &str {
    reference.strip_suffix(".wav").unwrap_or(reference)
}

/// Checks a prompt name: 1–40 letters, digits, `-` or `_`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "prompt name {name:?}: use 1 to 40 letters, digits, - or _"
        )))
    }
}

fn path(data_dir: &Path, tenant: &str, name: &str) -> PathBuf {
    dir(data_dir, tenant).join(format!("{name}.wav"))
}

/// Stores `file` as the tenant's prompt `name` (replacing one of that name): only a
/// mono 8 kHz 16-bit PCM WAV is taken; anything else is refused naming what it is,
/// and nothing changes. The file is copied under a temporary name and renamed, so a
/// running switch never reads half of it.
pub fn add(data_dir: &Path, tenant: &str, name: &str, file: &Path) -> Result<Announcement> {
    let name = name_of(name);
    check_name(name)?;
    install(file, &path(data_dir, tenant, name))
}

/// Checks `file` (mono 8 kHz 16-bit PCM, or refused naming what it is, nothing
/// changed) and copies it to `dest` under a temporary name, then renamed.
pub fn install(file: &Path, dest: &Path) -> Result<Announcement> {
    let a = Announcement::from_path(file).map_err(|e| Error::Invalid(e.to_string()))?;
    put(dest, |tmp| std::fs::copy(file, tmp).map(|_| ()))?;
    Ok(a)
}

/// `add` for a WAV held in memory (the API's upload), checked the same way.
pub fn add_bytes(data_dir: &Path, tenant: &str, name: &str, wav: &[u8]) -> Result<Announcement> {
    let name = name_of(name);
    check_name(name)?;
    let a = Announcement::from_bytes(name, wav).map_err(|e| Error::Invalid(e.to_string()))?;
    put(&path(data_dir, tenant, name), |tmp| {
        std::fs::write(tmp, wav)
    })?;
    Ok(a)
}

/// Writes `dest` through `fill` under a temporary name, then renames it: a running
/// switch never reads half of it.
fn put(dest: &Path, fill: impl FnOnce(&Path) -> std::io::Result<()>) -> Result<()> {
    let folder = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    let base = dest.file_name().and_then(|n| n.to_str()).unwrap_or("sound");
    let tmp = folder.join(format!(".{base}.new"));
    fill(&tmp)?;
    std::fs::rename(&tmp, dest)?;
    Ok(())
}

/// The tenant's prompts: name and length in milliseconds, by name.
pub fn list(data_dir: &Path, tenant: &str) -> Result<Vec<(String, u64)>> {
    let folder = dir(data_dir, tenant);
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&folder) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let p = entry?.path();
        let Some(name) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".wav"))
            .filter(|n| !n.starts_with('.'))
        else {
            continue;
        };
        let ms = Announcement::from_path(&p).map_or(0, |a| a.duration_ms());
        out.push((name.to_owned(), ms));
    }
    out.sort();
    Ok(out)
}

/// Removes the tenant's prompt `name`; refused while `plan` names it.
pub fn remove(data_dir: &Path, tenant: &str, name: &str, plan: Option<&TenantPlan>) -> Result<()> {
    let name = name_of(name);
    check_name(name)?;
    if let Some(user) = plan.and_then(|p| {
        references(p)
            .into_iter()
            .find(|(_, r)| name_of(r) == name)
            .map(|(entry, _)| entry)
    }) {
        return Err(Error::Invalid(format!(
            "prompt {name:?} is used by {user}; change the plan first"
        )));
    }
    let p = path(data_dir, tenant, name);
    if !p.exists() {
        return Err(Error::Invalid(format!(
            "tenant {tenant} has no prompt {name:?}"
        )));
    }
    std::fs::remove_file(p)?;
    Ok(())
}

/// The tenant's prompt `reference`, or the built-in prompt of that name; `None` when
/// neither exists (or the file is unusable).
pub fn load(data_dir: &Path, tenant: &str, reference: &str) -> Option<Announcement> {
    let name = name_of(reference);
    if check_name(name).is_err() {
        return None;
    }
    let p = path(data_dir, tenant, name);
    if p.exists() {
        return match Announcement::from_path(&p) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::warn!(error = %e, "prompt not usable");
                None
            }
        };
    }
    sounds::load(name).ok()
}

/// A tenant's prompts as last read, each read again only when its file changes (a
/// menu's announcement is loaded for every caller of the menu).
#[derive(Debug, Default)]
pub struct PromptCache {
    read: std::collections::HashMap<PathBuf, (std::time::SystemTime, Announcement)>,
}

impl PromptCache {
    /// `load`, from the cache while the tenant's file is unchanged.
    pub fn load(&mut self, data_dir: &Path, tenant: &str, reference: &str) -> Option<Announcement> {
        let name = name_of(reference);
        check_name(name).ok()?;
        let p = path(data_dir, tenant, name);
        let Ok(modified) = std::fs::metadata(&p).and_then(|m| m.modified()) else {
            self.read.remove(&p);
            return sounds::load(name).ok();
        };
        if let Some((at, a)) = self.read.get(&p) {
            if *at == modified {
                return Some(a.clone());
            }
        }
        let a = load(data_dir, tenant, reference)?;
        self.read.insert(p, (modified, a.clone()));
        Some(a)
    }
}

/// Every announcement the plan names, with the entry naming it.
pub fn references(plan: &TenantPlan) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for m in &plan.ivrs {
        if let Some(a) = &m.announcement {
            out.push((format!("IVR menu {:?}", m.name), a.clone()));
        }
    }
    for s in &plan.schedules {
        if let dialplan::schedule::ClosedAction::AnnouncementThenHangup { announcement } =
            &s.when_closed
        {
            out.push((format!("schedule {:?}", s.name), announcement.clone()));
        }
    }
    out
}

/// The announcements `plan` names that are neither the tenant's nor built in, as
/// "ENTRY: NAME" (empty: every one exists).
pub fn missing(data_dir: &Path, tenant: &str, plan: &TenantPlan) -> Vec<String> {
    references(plan)
        .into_iter()
        .filter(|(_, r)| {
            let name = name_of(r);
            check_name(name).is_err()
                || (!path(data_dir, tenant, name).exists() && sounds::get(name).is_none())
        })
        .map(|(entry, r)| format!("{entry}: no prompt {r:?}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(path: &Path, rate: u32, channels: u16) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..rate / 2 {
            for _ in 0..channels {
                w.write_sample(((i % 100) as i16) * 100).unwrap();
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn prompts_are_checked_listed_resolved_and_kept_while_the_plan_uses_them() {
        let data = std::env::temp_dir().join(format!("prompts-{:x}", rand::random::<u64>()));
        std::fs::create_dir_all(&data).unwrap();
        let stereo = data.join("stereo.wav");
        wav(&stereo, 44100, 2);
        let err = add(&data, "acme", "welcome", &stereo)
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 channel(s), 44100 Hz"), "{err}");
        assert!(list(&data, "acme").unwrap().is_empty(), "nothing stored");
        let good = data.join("good.wav");
        wav(&good, 8000, 1);
        assert!(add(&data, "acme", "bad name", &good).is_err());
        add(&data, "acme", "welcome.wav", &good).unwrap();
        assert_eq!(list(&data, "acme").unwrap(), vec![("welcome".into(), 500)]);
        // The tenant's own first, then the built-in ones; others are missing.
        assert_eq!(load(&data, "acme", "welcome").unwrap().duration_ms(), 500);
        assert!(load(&data, "acme", "after_hours").is_some());
        assert!(load(&data, "other", "welcome").is_none());
        let mut plan = TenantPlan::demo();
        assert!(
            missing(&data, "acme", &plan).is_empty(),
            "the demo's are built in"
        );
        plan.ivrs[0].announcement = Some("welcome.wav".into());
        assert!(missing(&data, "acme", &plan).is_empty());
        plan.ivrs[1].announcement = Some("nowhere".into());
        assert_eq!(
            missing(&data, "acme", &plan),
            vec!["IVR menu \"Languages\": no prompt \"nowhere\"".to_owned()]
        );
        let err = remove(&data, "acme", "welcome", Some(&plan)).unwrap_err();
        assert!(
            err.to_string().contains("used by IVR menu \"Main menu\""),
            "{err}"
        );
        remove(&data, "acme", "welcome", None).unwrap();
        assert!(list(&data, "acme").unwrap().is_empty());
        std::fs::remove_dir_all(&data).unwrap();
    }
}
