//! Every device's current business context, shared by the pipeline (which stamps it on events)
//! and the `context` command (which changes it while the daemon runs).
//!
//! A change is validated as config is, takes effect from the next read, and is kept in the
//! outbox database so that a restart mid-shipment does not drop the current purchase order;
//! `reset` goes back to what the config file says.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value};

use crate::config::Config;
use crate::outbox::store::Store;
use tracegate_epcis::context::BizContext;

/// Setting name under which a device's changed context is kept.
fn setting_name(device: &str) -> String {
    format!("context:{device}")
}

/// One device's context: as configured, and as it is now.
#[derive(Debug)]
struct Entry {
    configured: BizContext,
    current: RwLock<Arc<BizContext>>,
}

impl Entry {
    fn new(configured: BizContext, current: BizContext) -> Arc<Entry> {
        Arc::new(Entry {
            configured,
            current: RwLock::new(Arc::new(current)),
        })
    }
}

type Entries = HashMap<Arc<str>, Arc<Entry>>;

/// Every input device's context.
#[derive(Debug, Clone)]
pub struct ContextRegistry {
    entries: Arc<RwLock<Entries>>,
    store: Option<Store>,
}

impl ContextRegistry {
    /// The configured contexts, with changes kept in `store` (if any) applied on top; a kept
    /// change that no longer validates (the config changed) is dropped with a warning.
    pub fn load(config: &Config, store: Option<Store>) -> Self {
        let kept: HashMap<String, String> = store
            .as_ref()
            .and_then(|s| s.reader().ok())
            .and_then(|mut r| r.settings_with_prefix("context:").ok())
            .unwrap_or_default()
            .into_iter()
            .collect();
        let entries = config
            .devices
            .iter()
            .filter_map(|d| Some((d, &d.input.as_ref()?.context)))
            .map(|(d, configured)| {
                let current = kept
                    .get(&setting_name(&d.id))
                    .and_then(|json| {
                        let restored = serde_json::from_str::<BizContext>(json)
                            .map_err(|e| e.to_string())
                            .and_then(|c| c.validate().map(|()| c).map_err(|(_, m)| m));
                        match restored {
                            Ok(c) => {
                                tracing::info!(device = %d.id, "business context restored from the last change by command");
                                Some(c)
                            }
                            Err(e) => {
                                tracing::warn!(device = %d.id, "kept context change dropped, using the config file: {e}");
                                None
                            }
                        }
                    })
                    .unwrap_or_else(|| configured.clone());
                (d.id.clone(), Entry::new(configured.clone(), current))
            })
            .collect();
        ContextRegistry {
            entries: Arc::new(RwLock::new(entries)),
            store,
        }
    }

    /// Takes the input devices of a reloaded `config`: a device whose configured context is
    /// unchanged keeps its current one (a change by command included); a device whose
    /// configured context changed starts from the new one (the file wins, the kept change is
    /// forgotten); a removed device's context is forgotten.
    pub async fn set_devices(&self, config: &Config) {
        let mut forget = Vec::new();
        {
            let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
            let mut next = Entries::new();
            for device in &config.devices {
                let Some(input) = &device.input else { continue };
                let entry = match entries.remove(&device.id) {
                    Some(entry) if entry.configured == input.context => entry,
                    old => {
                        if old.is_some() {
                            forget.push(device.id.clone());
                        }
                        Entry::new(input.context.clone(), input.context.clone())
                    }
                };
                next.insert(device.id.clone(), entry);
            }
            forget.extend(entries.keys().cloned());
            *entries = next;
        }
        for id in forget {
            if let Err(e) = self.keep(&id, None).await {
                tracing::warn!(device = %id, "{e}");
            }
        }
    }

    /// Device `id`'s context now.
    pub fn get(&self, id: &str) -> Option<Arc<BizContext>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(id)
            .map(|e| e.current.read().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Every device's context now, in no particular order.
    pub fn all(&self) -> Vec<(Arc<str>, Arc<BizContext>)> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .iter()
            .map(|(id, e)| {
                (
                    id.clone(),
                    e.current.read().unwrap_or_else(|p| p.into_inner()).clone(),
                )
            })
            .collect()
    }

    /// Applies `changes` to device `id`'s context (keys as in the config, `null` clears) and
    /// keeps the result. Returns the new context.
    pub async fn change(
        &self,
        id: &str,
        changes: &Map<String, Value>,
    ) -> Result<Arc<BizContext>, String> {
        let entry = self.entry(id)?;
        let next = {
            let current = entry
                .current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            Arc::new(current.with_changes(changes)?)
        };
        self.keep(id, Some(&next)).await?;
        *entry.current.write().unwrap_or_else(|p| p.into_inner()) = next.clone();
        tracing::info!(device = id, context = %serde_json::to_string(&*next).unwrap_or_default(), "business context changed");
        Ok(next)
    }

    /// Back to the configured context.
    pub async fn reset(&self, id: &str) -> Result<Arc<BizContext>, String> {
        let entry = self.entry(id)?;
        self.keep(id, None).await?;
        let configured = Arc::new(entry.configured.clone());
        *entry.current.write().unwrap_or_else(|p| p.into_inner()) = configured.clone();
        tracing::info!(device = id, "business context reset to the config file");
        Ok(configured)
    }

    fn entry(&self, id: &str) -> Result<Arc<Entry>, String> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(id).cloned().ok_or_else(|| {
            let mut ids: Vec<&str> = entries.keys().map(|k| &**k).collect();
            ids.sort_unstable();
            format!(
                "no device {id:?} with an input role; input devices: {}",
                ids.join(", ")
            )
        })
    }

    async fn keep(&self, id: &str, context: Option<&BizContext>) -> Result<(), String> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let value = context.map(|c| serde_json::to_string(c).expect("context serialises"));
        store
            .set_setting(setting_name(id), value)
            .await
            .map_err(|e| format!("the change could not be saved: {e}"))
    }
}
