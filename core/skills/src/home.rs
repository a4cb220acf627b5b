//! Installed skills on disk: the trust store, installed bundles, grants and
//! the compiled-artifact cache, all under one directory the caller picks
//! (the CLI uses `<emma home>/skills`).
//!
//! Layout: `trusted/<hex>.pub`, `installed/<id>.emmaskill` + `installed/<id>.trust`,
//! `cache/`, `skills.db` (key-value store, grants and order proposals).

use crate::bundle::{self, Bundle, Trust};
use crate::error::HostError;
use crate::orders::{Decision, Proposal, now_unix};
use crate::permission::{Permission, PermissionSet};
use crate::runtime::{RuntimeConfig, SkillInstance, SkillRuntime};
use crate::services::Services;
use crate::storage::SkillDb;
use ed25519_dalek::VerifyingKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A skill that is installed.
#[derive(Debug, Clone)]
pub struct InstalledSkill {
    /// Its bundle.
    pub bundle: Bundle,
    /// How it was trusted at install.
    pub trust: Trust,
    /// Where the bundle is stored.
    pub path: PathBuf,
}

/// The directory that holds installed skills.
#[derive(Debug, Clone)]
pub struct SkillHome {
    root: PathBuf,
    db: SkillDb,
}

fn io_err(path: &Path, e: std::io::Error) -> HostError {
    HostError::Bundle(bundle::BundleError::Io {
        path: path.display().to_string(),
        source: e,
    })
}

impl SkillHome {
    /// Opens (creating) the skill home at `root`.
    pub fn open(root: &Path) -> Result<SkillHome, HostError> {
        for sub in ["trusted", "installed", "cache"] {
            let d = root.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| io_err(&d, e))?;
        }
        let db = SkillDb::open(&root.join("skills.db"))?;
        Ok(SkillHome {
            root: root.to_path_buf(),
            db,
        })
    }

    /// The shared skill database.
    pub fn db(&self) -> &SkillDb {
        &self.db
    }

    /// A runtime configuration whose artifact cache lives in this home.
    pub fn runtime_config(&self) -> RuntimeConfig {
        RuntimeConfig {
            cache_dir: Some(self.root.join("cache")),
            ..RuntimeConfig::default()
        }
    }

    /// Trusts a publisher key; returns the file written.
    pub fn trust(&self, key: &VerifyingKey) -> Result<PathBuf, HostError> {
        let path = self
            .root
            .join("trusted")
            .join(format!("{}.pub", bundle::key_hex(key)));
        std::fs::write(&path, bundle::public_key_text(key)).map_err(|e| io_err(&path, e))?;
        Ok(path)
    }

    /// All trusted publisher keys.
    pub fn trusted_keys(&self) -> Result<Vec<VerifyingKey>, HostError> {
        let dir = self.root.join("trusted");
        let mut keys = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| io_err(&dir, e))? {
            let path = entry.map_err(|e| io_err(&dir, e))?.path();
            if path.extension().is_some_and(|e| e == "pub") {
                let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
                keys.push(bundle::parse_public_key(
                    &text,
                    &path.display().to_string(),
                )?);
            }
        }
        Ok(keys)
    }

    /// Reads a bundle file and decides whether to accept it (signature + trust, or `dev`).
    pub fn verify(&self, path: &Path, dev: bool) -> Result<(Bundle, Trust), HostError> {
        let bundle = Bundle::read(path)?;
        let trust = bundle.check_trust(&self.trusted_keys()?, dev, &path.display().to_string())?;
        Ok((bundle, trust))
    }

    /// Installs a bundle: verifies it, checks every grant is declared, compiles
    /// it (filling the artifact cache) and records the customer's grants.
    pub fn install(
        &self,
        runtime: &SkillRuntime,
        path: &Path,
        customer: &str,
        grants: &[Permission],
        dev: bool,
    ) -> Result<InstalledSkill, HostError> {
        let (bundle, trust) = self.verify(path, dev)?;
        check_grants(&bundle.manifest.id, &bundle.manifest.permissions, grants)?;
        for other in self.list()? {
            if let Some(clash) = crate::lookalike::sounds_like(&bundle, &other.bundle) {
                return Err(HostError::SoundsLike {
                    skill: bundle.manifest.id.clone(),
                    sentence: clash.sentence,
                    other: clash.other,
                    other_sentence: clash.other_sentence,
                });
            }
        }
        runtime.compile(&bundle.component)?;
        let id = &bundle.manifest.id;
        let dest = self.root.join("installed").join(format!("{id}.emmaskill"));
        std::fs::copy(path, &dest).map_err(|e| io_err(&dest, e))?;
        let trust_path = self.root.join("installed").join(format!("{id}.trust"));
        let trust_text = match &trust {
            Trust::Trusted(k) => k.clone(),
            Trust::Dev => "dev".into(),
        };
        std::fs::write(&trust_path, trust_text).map_err(|e| io_err(&trust_path, e))?;
        self.db.revoke(customer, id, None)?;
        for g in grants {
            self.db.grant(customer, id, g)?;
        }
        Ok(InstalledSkill {
            bundle,
            trust,
            path: dest,
        })
    }

    /// Installed skills, sorted by id.
    pub fn list(&self) -> Result<Vec<InstalledSkill>, HostError> {
        let dir = self.root.join("installed");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| io_err(&dir, e))? {
            let path = entry.map_err(|e| io_err(&dir, e))?.path();
            if path.extension().is_some_and(|e| e == "emmaskill")
                && let Some(id) = path.file_stem().and_then(|s| s.to_str())
            {
                out.push(self.installed(id)?);
            }
        }
        out.sort_by(|a, b| a.bundle.manifest.id.cmp(&b.bundle.manifest.id));
        Ok(out)
    }

    /// One installed skill, re-verified: a signed skill whose key is no longer trusted is refused.
    pub fn installed(&self, id: &str) -> Result<InstalledSkill, HostError> {
        let path = self.root.join("installed").join(format!("{id}.emmaskill"));
        let trust_path = self.root.join("installed").join(format!("{id}.trust"));
        let dev = std::fs::read_to_string(&trust_path)
            .map_err(|e| io_err(&trust_path, e))?
            .trim()
            == "dev";
        let (bundle, trust) = self.verify(&path, dev)?;
        Ok(InstalledSkill {
            bundle,
            trust,
            path,
        })
    }

    /// Loads an installed skill for `customer`, compiling from the cache.
    pub fn load(
        &self,
        runtime: &SkillRuntime,
        id: &str,
        customer: &str,
        services: Arc<dyn Services>,
    ) -> Result<SkillInstance, HostError> {
        let skill = self.installed(id)?;
        let compiled = runtime.compile(&skill.bundle.component)?;
        let grants = self.db.grants(customer, id)?;
        runtime.load(
            &compiled,
            &skill.bundle.manifest,
            grants,
            self.db.clone(),
            services,
        )
    }

    /// Adds grants for an installed skill.
    pub fn grant(&self, id: &str, customer: &str, grants: &[Permission]) -> Result<(), HostError> {
        let skill = self.installed(id)?;
        check_grants(id, &skill.bundle.manifest.permissions, grants)?;
        for g in grants {
            self.db.grant(customer, id, g)?;
        }
        Ok(())
    }

    /// Revokes one grant, or all with `None`; returns how many were revoked.
    pub fn revoke(
        &self,
        id: &str,
        customer: &str,
        perm: Option<&Permission>,
    ) -> Result<u64, HostError> {
        Ok(self.db.revoke(customer, id, perm)?)
    }

    /// Every order proposal skills made, oldest first (stale ones marked expired).
    pub fn orders(&self) -> Result<Vec<Proposal>, HostError> {
        Ok(self.db.proposals(now_unix())?)
    }

    /// The customer confirms proposal `id`; errors if it is unknown or no longer pending.
    pub fn confirm(&self, id: &str) -> Result<Proposal, HostError> {
        Ok(self.db.decide(id, Decision::Confirm, now_unix())?)
    }

    /// The customer declines proposal `id`; errors if it is unknown or no longer pending.
    pub fn decline(&self, id: &str) -> Result<Proposal, HostError> {
        Ok(self.db.decide(id, Decision::Decline, now_unix())?)
    }

    /// Removes a skill, its grants for `customer`, and (with `erase_data`) everything it stored.
    pub fn remove(&self, id: &str, customer: &str, erase_data: bool) -> Result<(), HostError> {
        for ext in ["emmaskill", "trust"] {
            let p = self.root.join("installed").join(format!("{id}.{ext}"));
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&p, e)),
            }
        }
        self.db.revoke(customer, id, None)?;
        if erase_data {
            self.db.erase_skill(id)?;
        }
        Ok(())
    }
}

/// Every grant must be covered by a declared permission, or it could never take effect.
pub fn check_grants(
    id: &str,
    declared: &PermissionSet,
    grants: &[Permission],
) -> Result<(), HostError> {
    for g in grants {
        if !declared.allows(g) {
            return Err(HostError::GrantNotDeclared {
                skill: id.to_string(),
                permission: g.to_string(),
            });
        }
    }
    Ok(())
}
