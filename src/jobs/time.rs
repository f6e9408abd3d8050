//! Timestamps as RFC 3339 strings in JSON (chrono is built without its serde feature).

use chrono::{DateTime, SecondsFormat, Utc};
use std::sync::atomic::{AtomicI64, Ordering};

/// A new id that sorts by time: `YYYYMMDDTHHMMSS.mmmZ-xxxx` (UTC, milliseconds, random suffix).
/// Within one process the time part strictly increases, so ids made in a row sort in order.
pub fn sortable_id() -> String {
    static LAST_MS: AtomicI64 = AtomicI64::new(0);
    let now = Utc::now().timestamp_millis();
    let prev = LAST_MS.fetch_max(now, Ordering::SeqCst);
    let ms = if prev >= now {
        // Same (or an earlier) millisecond as the last id: take the next one.
        LAST_MS.fetch_add(1, Ordering::SeqCst) + 1
    } else {
        now
    };
    let t = DateTime::from_timestamp_millis(ms).unwrap_or_default();
    format!(
        "{}-{:04x}",
        t.format("%Y%m%dT%H%M%S%.3fZ"),
        rand::random::<u16>()
    )
}

/// RFC 3339 with milliseconds, `Z` suffix: the form of every time cairn prints.
pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `#[serde(with = "crate::jobs::time::serde_rfc3339")]` for `DateTime<Utc>`.
pub mod serde_rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialize as RFC 3339.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(t))
    }

    /// Parse RFC 3339.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "crate::jobs::time::serde_rfc3339_opt", default)]` for `Option<DateTime<Utc>>`.
pub mod serde_rfc3339_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialize as RFC 3339 or null.
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::rfc3339(t)),
            None => s.serialize_none(),
        }
    }

    /// Parse RFC 3339 or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| {
            DateTime::parse_from_rfc3339(&s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_made_in_a_row_sort_in_order() {
        let ids: Vec<String> = (0..200).map(|_| super::sortable_id()).collect();
        assert!(ids.windows(2).all(|w| w[0][..20] < w[1][..20]), "{ids:?}");
    }
}
