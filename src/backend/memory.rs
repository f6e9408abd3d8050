//! An in-memory backend for tests.

use super::{valid_name, Backend, ObjectInfo};
use crate::error::{StorageError, StorageErrorKind};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Objects in a map; cheap to create, for unit tests.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Change a stored object in place (tests use it to simulate corruption).
    pub fn tamper(&self, name: &str, f: impl FnOnce(&mut Vec<u8>)) {
        if let Some(v) = self.map().get_mut(name) {
            f(v);
        }
    }

    fn not_found(name: &str) -> StorageError {
        StorageError::new(
            StorageErrorKind::NotFound,
            format!("memory:{name}"),
            "no such object",
        )
    }
}

impl Backend for MemoryBackend {
    fn describe(&self) -> String {
        "memory".into()
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        Ok(self
            .map()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| ObjectInfo {
                name: k.clone(),
                size: v.len() as u64,
            })
            .collect())
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let m = self.map();
        let v = m.get(name).ok_or_else(|| Self::not_found(name))?;
        super::budget::check_size(name, v.len() as u64, format!("memory:{name}"))?;
        Ok(v.clone())
    }

    fn read_range(&self, name: &str, offset: u64, len: usize) -> Result<Vec<u8>, StorageError> {
        let m = self.map();
        let v = m.get(name).ok_or_else(|| Self::not_found(name))?;
        super::budget::check_size(name, v.len() as u64, format!("memory:{name}"))?;
        let start = (offset as usize).min(v.len());
        let end = start.saturating_add(len).min(v.len());
        Ok(v[start..end].to_vec())
    }

    fn write(&self, name: &str, data: &[u8]) -> Result<(), StorageError> {
        if !valid_name(name) {
            return Err(StorageError::new(
                StorageErrorKind::Io,
                "memory",
                format!("invalid object name {name:?}"),
            ));
        }
        self.map().insert(name.to_string(), data.to_vec());
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), StorageError> {
        self.map().remove(name);
        Ok(())
    }

    fn stat(&self, name: &str) -> Result<Option<u64>, StorageError> {
        Ok(self.map().get(name).map(|v| v.len() as u64))
    }

    fn clean_temp(&self) -> Result<usize, StorageError> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_backend_meets_the_contract() {
        super::super::contract::check(&super::MemoryBackend::new());
    }
}
