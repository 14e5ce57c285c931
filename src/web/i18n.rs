//! The web admin's two languages. Texts are written in English in the pages; German
//! comes from this table (a text missing here shows in English). Each account picks
//! its language (`web_accounts.language`), changed on every page's footer.

/// A page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
}

impl Lang {
    pub fn from_code(code: &str) -> Lang {
        if code == "de" {
            Lang::De
        } else {
            Lang::En
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// `text` in this language.
    pub fn t(self, text: &'static str) -> &'static str {
        match self {
            Lang::En => text,
            Lang::De => GERMAN
                .iter()
                .find(|(en, _)| *en == text)
                .map_or(text, |(_, de)| de),
        }
    }
}

/// English → German.
const GERMAN: &[(&str, &str)] = &[
    ("Sign in", "Anmelden"),
    ("Sign out", "Abmelden"),
    ("Login", "Benutzername"),
    ("Password", "Passwort"),
    ("The login or the password is wrong.", "Benutzername oder Passwort ist falsch."),
    ("Too many attempts from your address: wait a moment.", "Zu viele Versuche von Ihrer Adresse: bitte kurz warten."),
    ("Users", "Benutzer"),
    ("User", "Benutzer"),
    ("Devices", "Geräte"),
    ("Hunt groups", "Sammelrufgruppen"),
    ("Queues", "Warteschlangen"),
    ("IVR menus", "Sprachmenüs"),
    ("Schedules", "Zeitpläne"),
    ("Trunks", "Leitungen"),
    ("Prompts", "Ansagen"),
    ("Journal", "Anrufjournal"),
    ("Statistics", "Statistik"),
    ("Live monitor", "Live-Monitor"),
    ("Tenants", "Mandanten"),
    ("Tenant", "Mandant"),
    ("My settings", "Meine Einstellungen"),
    ("Voicemail", "Sprachnachrichten"),
    ("My calls", "Meine Anrufe"),
    ("Search", "Suchen"),
    ("Extension", "Nebenstelle"),
    ("Name", "Name"),
    ("Person", "Person"),
    ("E-mail", "E-Mail"),
    ("Registered", "Angemeldet"),
    ("State", "Zustand"),
    ("Add", "Hinzufügen"),
    ("Save", "Speichern"),
    ("Remove", "Entfernen"),
    ("Add a user", "Benutzer hinzufügen"),
    ("Web sign-in (optional)", "Web-Anmeldung (optional)"),
    ("Web password", "Web-Passwort"),
    ("SIP password", "SIP-Passwort"),
    ("previous", "zurück"),
    ("next", "weiter"),
    ("of", "von"),
    ("Do not disturb", "Nicht stören"),
    ("Call waiting", "Anklopfen"),
    ("Forward always to", "Immer umleiten zu"),
    ("Forward when busy to", "Bei besetzt umleiten zu"),
    ("Forward when offline to", "Wenn nicht angemeldet umleiten zu"),
    ("Forward on no answer to", "Bei Nichtmelden umleiten zu"),
    ("Seconds before no answer", "Sekunden bis Nichtmelden"),
    ("Number shown", "Angezeigte Rufnummer"),
    ("Hide my number", "Rufnummer unterdrücken"),
    ("Saved.", "Gespeichert."),
    ("Nothing was saved: see the fields marked.", "Nichts gespeichert: siehe markierte Felder."),
    ("free", "frei"),
    ("ringing", "klingelt"),
    ("in call", "im Gespräch"),
    ("held", "gehalten"),
    ("DND", "Nicht stören"),
    ("forwarding", "Umleitung"),
    ("Active calls", "Laufende Gespräche"),
    ("From", "Von"),
    ("To", "An"),
    ("Duration", "Dauer"),
    ("Lines", "Nebenstellen"),
    ("Waiting", "Wartend"),
    ("Longest wait", "Längste Wartezeit"),
    ("Agents", "Agenten"),
    ("Service level", "Servicelevel"),
    ("Status", "Status"),
    ("Number", "Nummer"),
    ("Members", "Mitglieder"),
    ("Strategy", "Strategie"),
    ("Overflow to", "Überlauf zu"),
    ("Announcement", "Ansage"),
    ("Choices", "Auswahl"),
    ("Upload", "Hochladen"),
    ("WAV file", "WAV-Datei"),
    ("What happens to a call", "Was geschieht mit einem Anruf"),
    ("at", "um"),
    ("Show", "Anzeigen"),
    ("Calls per hour", "Anrufe pro Stunde"),
    ("Answered", "Angenommen"),
    ("Since", "Seit"),
    ("Until", "Bis"),
    ("Direction", "Richtung"),
    ("all", "alle"),
    ("Export CSV", "CSV exportieren"),
    ("Filter", "Filtern"),
    ("Play", "Abspielen"),
    ("Delete", "Löschen"),
    ("new", "neu"),
    ("heard", "gehört"),
    ("No messages.", "Keine Nachrichten."),
    ("Voicemail PIN", "Sprachbox-PIN"),
    ("Agent login", "Agenten-Anmeldung"),
    ("Log in", "Anmelden"),
    ("Log out", "Abmelden"),
    ("logged in", "angemeldet"),
    ("logged out", "abgemeldet"),
    ("Language", "Sprache"),
    ("Domains", "Domains"),
    ("Provision a phone", "Telefon einrichten"),
    ("Kind", "Art"),
    ("Vendor", "Hersteller"),
    ("Line", "Nebenstelle"),
    ("Device accounts", "Gerätekonten"),
    ("Provisioned phones", "Eingerichtete Telefone"),
    ("Host", "Host"),
    ("Port", "Port"),
    ("Page not found.", "Seite nicht gefunden."),
    ("The form's security token is missing or stale: reload the page and try again.", "Das Sicherheitstoken des Formulars fehlt oder ist veraltet: Seite neu laden und erneut versuchen."),
    ("Calls", "Anrufe"),
    ("ASR", "ASR"),
    ("Talk time", "Gesprächszeit"),
    ("none", "keine"),
    ("Greeting", "Ansagetext"),
    ("Conferences", "Konferenzen"),
    ("Numbers", "Rufnummern"),
    ("Line groups", "Leitungsgruppen"),
    ("Pickup groups", "Übernahmegruppen"),
    ("Outbound routes", "Abgehende Routen"),
    ("Plan", "Wählplan"),
    ("The whole plan (time zone, location, emergency, least-cost routing, skills)", "Der ganze Wählplan (Zeitzone, Standort, Notruf, Least-Cost-Routing, Skills)"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_text_has_one_translation() {
        let mut seen = std::collections::HashSet::new();
        for (en, de) in GERMAN {
            assert!(seen.insert(en), "{en} twice");
            assert!(!de.is_empty());
        }
        assert_eq!(Lang::De.t("Users"), "Benutzer");
        assert_eq!(Lang::En.t("Users"), "Users");
        assert_eq!(Lang::De.t("no such text"), "no such text");
    }
}
