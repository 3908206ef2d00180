//! The dashboard: what the appliance holds and whether it is well.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Extension, State};
use maud::{html, Markup};
use minutier_seal::record::RecordKind;

use super::i18n::Lang;
use super::page::{now_millis, Ctx, Page};
use super::server::Shared;
use super::session::Method;
use crate::archive::ArchiveService;
use crate::auth::{allowed, Action, Role};
use crate::store::ListFilter;

/// Archives and bytes held, counted by a scan of the index at most once a
/// minute (a million archives take a few seconds).
#[derive(Default)]
pub struct StatsCache(Mutex<Option<(Instant, Stats)>>);

#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub archives: u64,
    pub eliminated: u64,
    pub bytes: u64,
}

const STATS_FRESH: Duration = Duration::from_secs(60);

impl StatsCache {
    async fn get(&self, service: &Arc<ArchiveService>) -> Option<Stats> {
        if let Some((at, stats)) = *self.0.lock().unwrap() {
            if at.elapsed() < STATS_FRESH {
                return Some(stats);
            }
        }
        let service = service.clone();
        let stats = tokio::task::spawn_blocking(move || count(&service))
            .await
            .ok()?
            .ok()?;
        *self.0.lock().unwrap() = Some((Instant::now(), stats));
        Some(stats)
    }
}

fn count(service: &ArchiveService) -> crate::error::Result<Stats> {
    let mut stats = Stats::default();
    let mut after: Option<String> = None;
    loop {
        let (page, next) = service.list(after.as_deref(), 1000, &ListFilter::default())?;
        for entry in &page {
            if entry.is_eliminated() {
                stats.eliminated += 1;
            } else {
                stats.archives += 1;
                stats.bytes += entry.size;
            }
        }
        match next {
            Some(n) => after = Some(n),
            None => return Ok(stats),
        }
    }
}

/// `GET /`.
pub async fn show(State(shared): State<Arc<Shared>>, Extension(ctx): Extension<Ctx>) -> Page {
    let session = ctx.signed()?;
    let l = ctx.lang;
    let role = session.identity.role;
    let service = &shared.service;
    let now = now_millis();
    // Counts cover every agency: not for a document system, which sees its
    // own agency's archives only.
    let stats = if allowed(role, Action::List) && role != Role::Dms {
        shared.stats.get(service).await
    } else {
        None
    };
    let checkpoint = service.latest_checkpoint().ok();
    let grown = service.latest_record_time().ok().flatten();
    let replication = service
        .replication()
        .map(|_| service.replication_status(None));
    let scrub = service
        .last_appliance_event(RecordKind::Scrub)
        .ok()
        .flatten();
    let health = service.health().map(|h| h.snapshot());
    let timestamping = service.timestamping().map(|t| t.status());
    let body = html! {
        p { (l.t("Bonjour", "Hello")) " " (session.identity.name) ". "
            span.hint { (l.t("Connexion par", "Signed in with")) " " (match session.method {
                Method::Password => l.t("mot de passe", "password"),
                Method::PasswordAndTotp => l.t("mot de passe et code à usage unique", "password and one-time code"),
                Method::Certificate => l.t("certificat", "certificate"),
            }) "." } }
        ul.tiles {
            @if let Some(s) = stats {
                li { span.label { (l.t("Archives conservées", "Archives held")) }
                     span.value data-stat="archives" { (l.number(s.archives)) } }
                li { span.label { (l.t("Volume des documents", "Size of the documents")) }
                     span.value data-stat="bytes" { (l.bytes(s.bytes)) } }
                li { span.label { (l.t("Archives éliminées", "Archives eliminated")) }
                     span.value { (l.number(s.eliminated)) } }
            }
            @if let Some(c) = &checkpoint {
                li { span.label { (l.t("Dernier point de contrôle", "Latest checkpoint")) }
                     span.value data-stat="checkpoint" { (l.number(c.size)) " " (l.t("enregistrements", "records")) }
                     @if let Some(t) = grown { span.hint { (l.time(t)) " (" (l.age(now.saturating_sub(t))) ")" } } }
            }
            li { span.label { (l.t("Réplication chiffrée", "Encrypted replication")) }
                (replication_tile(l, replication.as_ref(), now)) }
            li { span.label { (l.t("Dernier contrôle d'intégrité", "Last scrub")) }
                (scrub_tile(l, scrub.as_ref(), now)) }
            li { span.label { (l.t("Horodatage", "Time-stamping")) }
                @match &timestamping {
                    None => span.value.muted { (l.t("non configuré", "not configured")) },
                    Some(t) => {
                        @match (t.last_success_at, &t.last_error) {
                            (_, Some((_, e))) => { span.value.bad { (l.t("en échec", "failing")) } span.hint { (e) } }
                            (Some(at), None) => { span.value.ok { (l.t("à jour", "up to date")) } span.hint { (l.time(at)) } }
                            (None, None) => span.value.muted { (l.t("en attente", "pending")) },
                        }
                    }
                }
            }
        }
        @if let Some(h) = &health {
            h2 { (l.t("État de l'appareil", "Appliance health")) }
            @let problems = h.problems();
            @if problems.is_empty() {
                p.ok { (l.t("Tout va bien : espace, disques et horloge sont en ordre.", "All is well: space, disks and clock are in order.")) }
            } @else {
                ul.bad role="alert" { @for p in &problems { li { (p) } } }
            }
            dl.meta {
                @if let Ok(space) = &h.space {
                    dt { (l.t("Espace libre", "Free space")) }
                    dd { (l.bytes(space.free_bytes)) " / " (l.bytes(space.total_bytes)) }
                }
                dt { (l.t("Disques surveillés", "Disks watched")) }
                dd { (l.number(h.disks.len() as u64)) }
                dt { (l.t("Horloge", "Clock")) }
                dd { @match &h.clock.chrony {
                    Some(Ok(t)) => { (t.reference) " · " (l.t("écart", "offset")) " " (format!("{:+.3} s", t.offset_seconds)) }
                    Some(Err(e)) => span.bad { (e) },
                    None => span.muted { (l.t("non surveillée (chrony absent)", "not watched (no chrony)")) },
                } }
            }
        }
    };
    Ok(ctx.page(l.t("Tableau de bord", "Dashboard"), body))
}

fn replication_tile(
    l: Lang,
    status: Option<&crate::error::Result<crate::replication::ReplicationStatus>>,
    now: u64,
) -> Markup {
    html! {
        @match status {
            None => span.value.muted { (l.t("désactivée", "off")) },
            Some(Err(e)) => span.value.bad { (e.to_string()) },
            Some(Ok(r)) => {
                @if r.queued == 0 {
                    span.value.ok data-stat="replication" { (l.t("à jour", "up to date")) }
                } @else {
                    span.value data-stat="replication" { (l.number(r.queued)) " " (l.t("en attente", "queued")) }
                }
                @if let Some(oldest) = r.oldest_queued_ms {
                    span.hint { (l.t("retard", "lag")) " : " (l.age(now.saturating_sub(oldest))) }
                }
                @if let Some((_, e)) = &r.last_error { span.hint.bad { (e) } }
            }
        }
    }
}

fn scrub_tile(
    l: Lang,
    scrub: Option<&(u64, minutier_seal::record::Record, Vec<u8>)>,
    now: u64,
) -> Markup {
    let report =
        scrub.and_then(|(_, _, doc)| serde_json::from_slice::<serde_json::Value>(doc).ok());
    let n = |key: &str| report.as_ref().and_then(|r| r[key].as_u64()).unwrap_or(0);
    let trouble = n("contents_missing")
        + n("contents_corrupt")
        + n("replicas_missing")
        + n("replicas_altered");
    html! {
        @match scrub {
            None => span.value.muted { (l.t("jamais", "never")) },
            Some((_, record, _)) => {
                @if trouble == 0 {
                    span.value.ok { (l.t("rien à signaler", "nothing found")) }
                } @else {
                    span.value.bad { (l.number(trouble)) " " (l.t("anomalies", "problems")) }
                }
                span.hint {
                    (l.number(n("contents_checked"))) " " (l.t("documents vérifiés", "documents checked"))
                    ", " (l.number(n("contents_repaired"))) " " (l.t("réparés", "repaired"))
                    " · " (l.age(now.saturating_sub(record.time.0)))
                }
            }
        }
    }
}
