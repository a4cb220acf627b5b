//! Text from skills and remote parties, made safe to show or speak.
//!
//! A skill's speech, a card, a notification, an order description, a handoff
//! summary, a log field, or a device name announced over MQTT is written by
//! someone else. Printed raw, it can drive the terminal: `ESC [2J` clears the
//! screen, `ESC ]0;…BEL` sets the window title, `CR` overwrites the line just
//! printed ("Turned off the alarm"), and Unicode bidi overrides make text
//! read differently from how it is stored. This crate turns such text into
//! plain, printable text:
//!
//! - whole ANSI/ECMA-48 escape sequences (CSI, OSC, DCS/SOS/PM/APC strings,
//!   two-byte escapes, and their 8-bit C1 forms) are removed, not just the
//!   `ESC`, so no `[2J` debris is left behind;
//! - every other control character (C0, DEL, C1) is dropped; in [`line`]
//!   text, line breaks and tabs become one space, in [`text`] a line break
//!   (`\n`, `\r\n`, or a lone `\r`) becomes `\n` and tabs become a space;
//! - bidi controls (embeddings, overrides, isolates, marks), zero-width
//!   characters, the byte-order mark, line/paragraph separators and other
//!   invisible format characters are removed;
//! - the result is capped at a number of characters, ending in `…` when cut.
//!
//! It has no dependencies, so every crate that shows untrusted text
//! (the skill host, the device layer, the CLI) can use it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Default cap for one-line fields: names, titles, order descriptions, log fields.
pub const LINE_CHARS: usize = 200;
/// Default cap for free text: speech, card bodies, notification bodies, summaries.
pub const TEXT_CHARS: usize = 2000;

/// What happens to a line break.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Breaks {
    /// Line breaks and tabs become a single space.
    Space,
    /// Line breaks become `\n`; tabs a space.
    Keep,
}

/// One-line text: escape sequences and controls removed, line breaks and tabs
/// turned into single spaces, bidi and invisible characters removed, leading
/// and trailing spaces trimmed, at most `max_chars` characters.
pub fn line(s: &str, max_chars: usize) -> String {
    clean(s, max_chars, Breaks::Space)
}

/// Multi-line text: like [`line`], but line breaks (`\n`, `\r\n`, a lone
/// `\r`) become `\n`, so text stays readable without a carriage return being
/// able to overwrite what was printed.
pub fn text(s: &str, max_chars: usize) -> String {
    clean(s, max_chars, Breaks::Keep)
}

/// Whether `s` would come out of [`text`] unchanged except for length: no
/// escape sequences, controls (other than `\n`), bidi or invisible characters.
pub fn is_clean(s: &str) -> bool {
    s.chars()
        .all(|c| c == '\n' || !(is_control(c) || is_invisible(c)))
}

/// Characters the terminal or a speech engine would interpret rather than show:
/// C0 (including `ESC`, `CR`, `BEL`, `BS`), `DEL` and C1 (including the 8-bit `CSI`).
fn is_control(c: char) -> bool {
    c.is_control()
}

/// Bidi controls and invisible format characters that make text display or
/// compare differently from how it reads.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{061C}'              // arabic letter mark
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // hangul fillers
        | '\u{180E}'            // mongolian vowel separator
        | '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
        | '\u{2028}'..='\u{202E}' // line/paragraph separators, embeddings, overrides
        | '\u{2060}'..='\u{206F}' // word joiner, invisible operators, isolates, deprecated formats
        | '\u{FE00}'..='\u{FE0F}' // variation selectors
        | '\u{FEFF}'            // byte-order mark
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotations
        | '\u{E0000}'..='\u{E007F}' // tags
    )
}

/// Where the escape-sequence scanner is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Ordinary text.
    Text,
    /// After `ESC`.
    Escape,
    /// Inside `ESC [` (or C1 `CSI`): parameters until a final byte `@`..`~`.
    Csi,
    /// Inside a string (`OSC`, `DCS`, `SOS`, `PM`, `APC`): until `BEL` or `ST`.
    Str,
    /// Inside a string, after an `ESC` (maybe `ESC \` = ST).
    StrEscape,
    /// After `ESC` + intermediate bytes (`ESC ( B`): until a final byte.
    EscIntermediate,
}

fn clean(s: &str, max_chars: usize, breaks: Breaks) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars.saturating_mul(4)));
    let mut count = 0usize;
    let mut cut = false;
    let mut state = Scan::Text;
    // A separator (space or newline) is written only before the next visible
    // character, so runs of breaks collapse and the ends are trimmed.
    let mut pending: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if skip_escape(&mut state, c) {
            continue;
        }
        match c {
            '\u{1B}' => {
                state = Scan::Escape;
                continue;
            }
            '\u{9B}' => {
                state = Scan::Csi;
                continue;
            }
            '\u{90}' | '\u{98}' | '\u{9D}' | '\u{9E}' | '\u{9F}' => {
                state = Scan::Str;
                continue;
            }
            _ => {}
        }
        let newline = if breaks == Breaks::Keep { '\n' } else { ' ' };
        let sep = match c {
            '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' => Some(newline),
            // `\r\n` is one break; a lone `\r` (which would overwrite the line) is one too.
            '\r' if chars.peek() == Some(&'\n') => continue,
            '\r' => Some(newline),
            c if c.is_whitespace() && !is_invisible(c) => Some(' '),
            _ => None,
        };
        if let Some(sep) = sep {
            if count > 0 && pending != Some('\n') {
                pending = Some(sep);
            }
            continue;
        }
        if is_control(c) || is_invisible(c) {
            continue;
        }
        let need = 1 + usize::from(pending.is_some());
        if count + need > max_chars {
            cut = true;
            break;
        }
        if let Some(p) = pending.take() {
            out.push(p);
            count += 1;
        }
        out.push(c);
        count += 1;
    }
    if cut && max_chars > 0 {
        if count >= max_chars {
            out.pop();
        }
        while out.ends_with([' ', '\n']) {
            out.pop();
        }
        out.push('…');
    }
    out
}

/// Advances the escape-sequence scanner over `c`; true when `c` belongs to a
/// sequence (and is dropped), false when it is ordinary text.
fn skip_escape(state: &mut Scan, c: char) -> bool {
    match *state {
        Scan::Text => false,
        Scan::Escape => {
            *state = match c {
                '[' => Scan::Csi,
                ']' | 'P' | 'X' | '^' | '_' => Scan::Str,
                ' '..='/' => Scan::EscIntermediate,
                _ => Scan::Text,
            };
            // A final byte ends a two-byte escape (`ESC c`, `ESC 7`); anything
            // else (a control, a non-ASCII letter) is not part of it.
            *state != Scan::Text || ('0'..='~').contains(&c)
        }
        Scan::Csi => {
            if (' '..='?').contains(&c) {
                return true; // parameter or intermediate byte
            }
            *state = Scan::Text;
            ('@'..='~').contains(&c) // final byte; anything else aborts the sequence
        }
        Scan::EscIntermediate => {
            if (' '..='/').contains(&c) {
                return true;
            }
            *state = Scan::Text;
            ('0'..='~').contains(&c)
        }
        Scan::Str => {
            match c {
                '\u{07}' | '\u{9C}' => *state = Scan::Text,
                '\u{1B}' => *state = Scan::StrEscape,
                _ => {}
            }
            true
        }
        Scan::StrEscape => {
            *state = match c {
                '\\' => Scan::Text,
                '\u{1B}' => Scan::StrEscape,
                _ => Scan::Str,
            };
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terminal_escapes_are_removed_whole() {
        assert_eq!(line("\u{1b}[2JEvil\u{7}", 100), "Evil");
        assert_eq!(line("\u{1b}]0;pwned title\u{7}ok", 100), "ok");
        assert_eq!(
            line("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\", 100),
            "link"
        );
        assert_eq!(line("\u{1b}[1;31mred\u{1b}[0m", 100), "red");
        assert_eq!(line("\u{9b}31mred", 100), "red");
        assert_eq!(line("\u{1b}(Bx\u{1b}7y\u{1b}cz", 100), "xyz");
        assert_eq!(line("\u{1b}Pq#0;2;0;0;0\u{1b}\\done", 100), "done");
        // An unterminated string swallows the rest: nothing of it is shown.
        assert_eq!(line("safe\u{1b}]0;never ends", 100), "safe");
        // An escape cut short by a control or non-ASCII text keeps the text.
        assert_eq!(line("\u{1b}\u{1b}[Kä", 100), "ä");
        assert_eq!(line("a\u{1b}[12ü", 100), "aü");
    }

    #[test]
    fn carriage_return_cannot_overwrite_a_line() {
        assert_eq!(
            line("Alarm still armed\rTurned off the alarm", 100),
            "Alarm still armed Turned off the alarm"
        );
        assert_eq!(
            text("one\r\ntwo\rthree\n\n\nfour", 100),
            "one\ntwo\nthree\nfour"
        );
        assert_eq!(line("  a\t\tb \u{7}\u{8}c\u{7f}d  ", 100), "a b cd");
    }

    #[test]
    fn bidi_and_invisible_characters_are_removed() {
        // "Turned off the alarm" written backwards behind a right-to-left override.
        assert_eq!(line("ok \u{202e}mrala\u{202c}", 100), "ok mrala");
        assert_eq!(
            line("pay\u{2066}\u{200b}pal\u{2069}\u{feff}", 100),
            "paypal"
        );
        assert_eq!(line("a\u{2028}b\u{2029}c", 100), "abc");
        assert_eq!(line("Küche Köln 厨房 🍵", 100), "Küche Köln 厨房 🍵");
    }

    #[test]
    fn length_is_capped_with_an_ellipsis() {
        assert_eq!(line("abcdef", 4), "abc…");
        assert_eq!(line("abcd", 4), "abcd");
        assert_eq!(line("ab cdef", 4), "ab…");
        assert_eq!(line("abc", 0), "");
        assert_eq!(line(&"é".repeat(1000), 10).chars().count(), 10);
    }

    proptest! {
        #[test]
        fn output_is_always_clean_and_capped(s in "(\\PC|[\\x00-\\x1f\\x7f-\\x9f\u{202a}-\u{202e}\u{2066}-\u{2069}]){0,300}", max in 0usize..120) {
            for out in [line(&s, max), text(&s, max)] {
                prop_assert!(is_clean(&out), "{out:?} from {s:?}");
                prop_assert!(out.chars().count() <= max, "{out:?}");
                prop_assert!(!out.contains('\x1b'), "escape left in {:?}", out);
            }
            prop_assert!(!line(&s, max).contains('\n'));
        }

        #[test]
        fn clean_text_passes_unchanged(s in "[a-zA-Z0-9äöüß€ .,!?'-]{0,80}") {
            let words: Vec<&str> = s.split_whitespace().collect();
            prop_assert_eq!(line(&s, 200), words.join(" "));
        }
    }
}
