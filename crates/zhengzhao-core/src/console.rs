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
    /// Outbox rows per destination: (destination, pending, parked, oldest age in minutes).
    pub outbox: Option<Vec<(String, u64, u64, i64)>>,
    /// Scenario applications waiting for a decision.
    pub scenarios_waiting: Option<usize>,
}

impl Library {
    pub async fn dashboard(&self, caller: &Principal) -> Result<Dashboard> {
        let may = |a: Action| policy::require(caller, a).is_ok();
        let mut d = Dashboard::default();
        if may(Action::ReadLicenses) {
            let now = self.now().to_zoned(crate::china_tz());
            let today = now
                .start_of_day()
                .map_err(|e| crate::Error::Internal(e.to_string()))?;
            let month = today
                .checked_sub((i64::from(today.day()) - 1).days())
                .map_err(|e| crate::Error::Internal(e.to_string()))?;
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
            let mut pending = 0;
            let mut overdue = 0;
            for (incident, item) in self.open_backlog().await? {
                let org = zhengzhao_domain::org::OrgCode::parse(&incident.org)
                    .map_err(|e| crate::Error::Internal(e.to_string()))?;
                if self.store.org_within(&org, &caller.org).await? {
                    pending += 1;
                    overdue += usize::from(item.state == "overdue");
                }
            }
            d.backlog = Some((pending, overdue));
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
