//! How many checks of licenses come in, per China day and per way in, for
//! the console's chart of verification volume. Statistics, not records:
//! public checks are anonymous and nobody's check is logged here. Each
//! check adds one to a counter in memory (no write on the check's path);
//! the counters are added to the store each minute, at shutdown, and
//! before the chart is read. A crash loses at most a minute of counts,
//! never a license or an audit event.

use crate::{Library, Result};
use std::collections::HashMap;
use std::sync::Mutex;

/// The ways a check comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckWay {
    /// By the license's identifier (the verify page, the API, its QR code).
    Identifier,
    /// A holder's presentation code scanned.
    Presentation,
    /// A business license by unified social credit code and name.
    CreditCode,
    /// An uploaded license file or signed document.
    Document,
    /// Items of a relying party's batch check.
    Batch,
}

impl CheckWay {
    pub const ALL: [CheckWay; 5] = [
        CheckWay::Identifier,
        CheckWay::Presentation,
        CheckWay::CreditCode,
        CheckWay::Document,
        CheckWay::Batch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckWay::Identifier => "identifier",
            CheckWay::Presentation => "presentation",
            CheckWay::CreditCode => "credit_code",
            CheckWay::Document => "document",
            CheckWay::Batch => "batch",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            CheckWay::Identifier => "按证照标识",
            CheckWay::Presentation => "扫描亮证码",
            CheckWay::CreditCode => "按信用代码和名称",
            CheckWay::Document => "上传文件",
            CheckWay::Batch => "用证单位批量核验",
        }
    }

    fn parse(s: &str) -> Option<CheckWay> {
        CheckWay::ALL.into_iter().find(|w| w.as_str() == s)
    }
}

/// Counts not yet in the store: (China day, way) → checks. Keyed by the
/// date itself: a check allocates nothing here.
#[derive(Default)]
pub struct CheckCounter {
    pending: Mutex<HashMap<(jiff::civil::Date, CheckWay), i64>>,
}

impl CheckCounter {
    fn take(&self) -> HashMap<(jiff::civil::Date, CheckWay), i64> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn add(&self, day: jiff::civil::Date, way: CheckWay, n: i64) {
        *self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((day, way))
            .or_insert(0) += n;
    }
}

/// One day of the chart.
#[derive(Debug, Clone)]
pub struct DayChecks {
    /// `YYYY-MM-DD`, China time.
    pub day: String,
    pub total: i64,
    /// Checks per way in, in `CheckWay::ALL`'s order.
    pub by_way: Vec<(CheckWay, i64)>,
}

impl Library {
    /// Count `n` checks that came in `way` today.
    pub(crate) fn count_checks(&self, way: CheckWay, n: usize) {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.check_counter.add(self.today(), way, n);
    }

    /// Add the counts since the last flush to the store; on a failure they
    /// are kept for the next one.
    pub async fn flush_check_counts(&self) -> Result<()> {
        let taken = self.check_counter.take();
        if taken.is_empty() {
            return Ok(());
        }
        let rows: Vec<(String, String, i64)> = taken
            .iter()
            .map(|((day, way), n)| (day.to_string(), way.as_str().to_owned(), *n))
            .collect();
        if let Err(e) = self.store.add_verification_counts(&rows).await {
            for ((day, way), n) in taken {
                self.check_counter.add(day, way, n);
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// Checks per day over the last `days` days up to today (China time),
    /// oldest first, days without checks included.
    pub async fn check_volume(&self, days: i64) -> Result<Vec<DayChecks>> {
        // A failed flush keeps its counts for the next one; the chart then
        // shows what is stored, not an error.
        if let Err(e) = self.flush_check_counts().await {
            tracing::warn!(error = %e, "check counts not stored; kept for the next try");
        }
        let internal = |e: jiff::Error| crate::Error::Internal(e.to_string());
        let today = self.today();
        let first = today
            .checked_sub(jiff::Span::new().days(days.saturating_sub(1)))
            .map_err(internal)?;
        let rows = self.store.verification_counts(&first.to_string()).await?;
        let mut out = Vec::new();
        let mut day = first;
        while day <= today {
            let key = day.to_string();
            let by_way: Vec<(CheckWay, i64)> = CheckWay::ALL
                .into_iter()
                .map(|w| {
                    let n = rows
                        .iter()
                        .filter(|(d, k, _)| *d == key && CheckWay::parse(k) == Some(w))
                        .map(|(_, _, n)| n)
                        .sum();
                    (w, n)
                })
                .collect();
            out.push(DayChecks {
                total: by_way.iter().map(|(_, n)| n).sum(),
                day: key,
                by_way,
            });
            day = day.tomorrow().map_err(internal)?;
        }
        Ok(out)
    }
}

/// Flush the counts every `interval` until `stop`, and once more then.
pub async fn run_check_count_flusher(
    library: Library,
    interval: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let stopping = tokio::select! {
            _ = stop.changed() => true,
            () = tokio::time::sleep(interval) => false,
        };
        if let Err(e) = library.flush_check_counts().await {
            tracing::warn!(error = %e, "check counts not stored; kept for the next try");
        }
        if stopping {
            return;
        }
    }
}
