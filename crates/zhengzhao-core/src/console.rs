//! The staff console's dashboard: what waits for the signed-in user's org,
//! each part shown only to the roles that may see it (the same policy as
//! the API), each read through the same use cases.

use crate::policy::{self, Action};
use crate::{Library, Principal, Result};
use jiff::ToSpan;

/// What the console's first page shows.
#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    /// Licenses issued by the org's subtree today and this month (China time).
    pub issued: Option<(i64, i64)>,
    /// Objections waiting for a step, and how many of them are overdue.
    pub objections: Option<(usize, usize)>,
    /// Emergency backlog items not done, and how many are overdue.
    pub backlog: Option<(usize, usize)>,
    /// Emergency incidents still open (the fault not yet cleared).
    pub incidents_open: Option<usize>,
    /// Outbox rows per destination: (destination, pending, parked, oldest age in minutes).
    pub outbox: Option<Vec<(String, u64, u64, i64)>>,
    /// Scenario applications waiting for a decision.
    pub scenarios_waiting: Option<usize>,
    /// Licenses issued per month, the last twelve (China time), oldest
    /// first: (month `YYYY-MM`, total, per org directly below the caller's
    /// as (name, count)).
    pub issuance: Option<Vec<MonthIssuance>>,
    /// Checks of licenses per day, the last thirty days, province-wide
    /// (public checks are anonymous: counted, not attributed to an org).
    pub checks: Vec<crate::check_counts::DayChecks>,
}

/// One month of the issuance chart.
#[derive(Debug, Clone, Default)]
pub struct MonthIssuance {
    /// `YYYY-MM`, China time.
    pub month: String,
    pub total: i64,
    /// (org name, count) for each org directly below the caller's (and
    /// the caller's own org for what it issued itself).
    pub by_org: Vec<(String, i64)>,
}

impl Library {
    /// The last twelve months' issuance below the caller's org.
    async fn issuance_chart(
        &self,
        caller: &Principal,
        today: &jiff::Zoned,
    ) -> Result<Vec<MonthIssuance>> {
        let internal = |e: jiff::Error| crate::Error::Internal(e.to_string());
        let this_month = today.date().first_of_month();
        let first = this_month.checked_sub(11.months()).map_err(internal)?;
        let since = first
            .to_zoned(crate::china_tz())
            .map_err(internal)?
            .timestamp();
        let rows = self.store.issuance_by_month(&caller.org, since).await?;
        let mut out = Vec::with_capacity(12);
        for i in 0..12 {
            let month = first.checked_add(i.months()).map_err(internal)?;
            let key = month.strftime("%Y-%m").to_string();
            let mut parts = Vec::new();
            for (_, org, n) in rows.iter().filter(|(m, _, _)| *m == key) {
                let name = match zhengzhao_domain::org::OrgCode::parse(org) {
                    Ok(code) => self
                        .cached_org(&code)
                        .await?
                        .map_or_else(|| org.clone(), |o| o.name.clone()),
                    Err(_) => org.clone(),
                };
                parts.push((name, *n));
            }
            out.push(MonthIssuance {
                month: key,
                total: parts.iter().map(|(_, n)| n).sum(),
                by_org: parts,
            });
        }
        Ok(out)
    }

    pub async fn dashboard(&self, caller: &Principal) -> Result<Dashboard> {
        let may = |a: Action| policy::require(caller, a).is_ok();
        let mut d = Dashboard {
            checks: self.check_volume(30).await?,
            ..Dashboard::default()
        };
        if may(Action::ReadLicenses) {
            let now = self.now().to_zoned(crate::china_tz());
            let today = now
                .start_of_day()
                .map_err(|e| crate::Error::Internal(e.to_string()))?;
            let month = today
                .checked_sub((i64::from(today.day()) - 1).days())
                .map_err(|e| crate::Error::Internal(e.to_string()))?;
            d.issuance = Some(self.issuance_chart(caller, &today).await?);
            d.issued = Some((
                self.store
                    .count_licenses_issued(&caller.org, today.timestamp())
                    .await?,
                self.store
                    .count_licenses_issued(&caller.org, month.timestamp())
                    .await?,
            ));
        }
        if may(Action::ReadObjections) {
            let list = self.list_objections(caller, &Default::default()).await?;
            let waiting: Vec<_> = list.iter().filter(|o| o.due_on.is_some()).collect();
            d.objections = Some((waiting.len(), waiting.iter().filter(|o| o.overdue).count()));
        }
        if may(Action::ReadIncidents) {
            // The incidents the caller may open (`list_incidents`: the
            // same scope as the API), not every one below its org.
            let incidents = self.list_incidents(caller).await?;
            let pending = incidents
                .iter()
                .flat_map(|i| &i.items)
                .filter(|item| item.state != "done")
                .count();
            let overdue = incidents.iter().map(|i| i.overdue).sum();
            d.backlog = Some((pending, overdue));
            d.incidents_open = Some(incidents.iter().filter(|i| i.cleared_at.is_none()).count());
        }
        if may(Action::OperateOutbox) {
            let now = self.now();
            d.outbox = Some(
                self.outbox_summary()
                    .await?
                    .into_iter()
                    .map(|s| {
                        let age = s
                            .oldest_undelivered_at
                            .map_or(0, |t| now.duration_since(t).as_secs().max(0) / 60);
                        (
                            s.destination,
                            s.pending + s.in_flight,
                            s.parked + s.rejected,
                            age,
                        )
                    })
                    .collect(),
            );
        }
        if may(Action::ReadScenarios) {
            let list = self.scenario_list(caller).await?;
            d.scenarios_waiting = Some(
                list.iter()
                    .filter(|s| s.state == zhengzhao_domain::scenario::ScenarioState::Submitted)
                    .count(),
            );
        }
        Ok(d)
    }
}
