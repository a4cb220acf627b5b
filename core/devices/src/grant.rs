//! Grants: which devices a skill may read or control.
//!
//! A grant is `device:<id pattern>:<access>`, where the pattern is a device id
//! with `*` wildcards (`light.*`, `light.kitchen_lamp`, `*`) and access is
//! `read` (state and events) or `control` (commands; implies `read`).
//! Only the host publishes device commands: a skill asks the host, and the host
//! checks [`allowed`] first.

use crate::device::Device;

/// What a skill wants to do with a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read its state and receive its events.
    Read,
    /// Send it commands.
    Control,
}

/// Whether the grant `pattern` lets a skill do `access` on `device`.
///
/// Malformed patterns grant nothing.
pub fn allowed(pattern: &str, device: &Device, access: Access) -> bool {
    let mut parts = pattern.split(':');
    let (Some("device"), Some(ids), Some(level), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let level_ok = matches!((level, access), ("control", _) | ("read", Access::Read));
    level_ok && !ids.is_empty() && glob(ids, &device.id)
}

/// Whether any of `grants` lets a skill do `access` on `device`.
pub fn allowed_any<'a>(
    grants: impl IntoIterator<Item = &'a str>,
    device: &Device,
    access: Access,
) -> bool {
    grants.into_iter().any(|g| allowed(g, device, access))
}

/// `*` matches any run of characters (including none); everything else literally.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Domain;

    #[test]
    fn grant_patterns() {
        let lamp = Device::new("light.kitchen_lamp", "kitchen lamp", Domain::Light);
        let lock = Device::new("lock.front_door", "front door", Domain::Lock);
        let cases = [
            ("device:light.*:control", &lamp, Access::Control, true),
            ("device:light.*:control", &lamp, Access::Read, true),
            ("device:light.*:control", &lock, Access::Control, false),
            ("device:light.kitchen_lamp:read", &lamp, Access::Read, true),
            (
                "device:light.kitchen_lamp:read",
                &lamp,
                Access::Control,
                false,
            ),
            ("device:light.kitchen:read", &lamp, Access::Read, false),
            ("device:*:read", &lock, Access::Read, true),
            ("device:*:read", &lock, Access::Control, false),
            ("device:*_lamp:control", &lamp, Access::Control, true),
            ("device:light.*", &lamp, Access::Read, false),
            ("device:light.*:write", &lamp, Access::Read, false),
            ("mqtt:light.*:control", &lamp, Access::Control, false),
            ("device::control", &lamp, Access::Control, false),
            ("device:light.*:control:x", &lamp, Access::Control, false),
            ("", &lamp, Access::Read, false),
        ];
        for (pattern, device, access, want) in cases {
            assert_eq!(
                allowed(pattern, device, access),
                want,
                "{pattern} {} {access:?}",
                device.id
            );
        }
        assert!(allowed_any(
            ["device:lock.*:read", "device:light.*:control"],
            &lamp,
            Access::Control
        ));
    }

    #[test]
    fn glob_edge_cases() {
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        assert!(glob("**", "x"));
        assert!(!glob("", "x"));
    }
}
