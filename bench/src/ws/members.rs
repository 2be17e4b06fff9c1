//! The members of one project, each on a WebSocket from its first event (`since=0`),
//! hearing the project's creates; and the count of what each heard against the tasks the
//! project holds: every member must hear every create exactly once, under gapless ids.
//!
//! A socket the server closes (a member that fell more than `--stream-buffer` events
//! behind gets 4008) is reopened with `since=<last id heard>`, as a client should: the
//! stream's guarantee is no loss and no duplicate across such resumes, so the count
//! covers them too. Each resume is counted and reported.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::api::User;

use super::fanout::micros_since;
use super::{Socket, open};

/// Reopenings allowed per member before it gives up (its missing events then count as
/// lost).
const MAX_RESUMES: u32 = 20;

/// What one member heard, across its resumes.
#[derive(Default, Debug)]
pub struct Heard {
    /// Every event id, in the order received.
    pub event_ids: Vec<i64>,
    /// The task ids of the project's `create` events, in the order received.
    pub created: Vec<i64>,
    /// `reset` events (the stream could not replay from the id asked).
    pub resets: u64,
    /// Text frames that were not events.
    pub bad_frames: u64,
    /// Each create's `at` (stamped in the write transaction) to receipt, µs.
    pub commit_to_receipt: Vec<u64>,
    pub resumes: u32,
    /// Why the socket was first closed, when it was.
    pub first_close: Option<String>,
    /// Why the member stopped listening before the end, when it did.
    pub gave_up: Option<String>,
}

#[derive(Deserialize)]
struct Event {
    event_id: i64,
    action: String,
    task: Option<EventTask>,
    at: Option<String>,
}

#[derive(Deserialize)]
struct EventTask {
    id: i64,
    project: Option<i64>,
}

/// The members listening: stop them to get what each heard.
pub struct Listeners {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<Heard>>,
    /// Creates of the project heard so far, per member.
    heard: Arc<Vec<AtomicUsize>>,
    pub connect_time: Duration,
}

impl Listeners {
    /// Waits until every member has heard at least `count` creates, or `timeout` has
    /// passed: how long it waited.
    pub async fn drain(&self, count: usize, timeout: Duration) -> Duration {
        let start = tokio::time::Instant::now();
        while self.heard.iter().any(|h| h.load(Ordering::Relaxed) < count)
            && start.elapsed() < timeout
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        start.elapsed()
    }

    /// Stops every member: what each heard, in the members' order.
    pub async fn stop(self) -> anyhow::Result<Vec<Heard>> {
        let _ = self.stop.send(true);
        let mut out = Vec::with_capacity(self.handles.len());
        for h in self.handles {
            out.push(h.await.context("member task")?);
        }
        Ok(out)
    }
}

/// Opens one socket per member, from `since=0`, and listens for `project`'s creates.
/// Fails if any socket cannot be opened.
pub async fn listen(addr: SocketAddr, members: &[User], project: i64) -> anyhow::Result<Listeners> {
    let started = tokio::time::Instant::now();
    let opened = futures_util::future::join_all(
        members
            .iter()
            .map(|m| open(addr, &m.token, Some(0), WebSocketConfig::default())),
    )
    .await;
    let (stop, stop_rx) = watch::channel(false);
    let heard: Arc<Vec<AtomicUsize>> =
        Arc::new((0..members.len()).map(|_| AtomicUsize::new(0)).collect());
    let mut handles = Vec::with_capacity(members.len());
    for (i, (socket, member)) in opened.into_iter().zip(members).enumerate() {
        let socket = socket.with_context(|| format!("open {}'s WebSocket", member.name))?;
        handles.push(tokio::spawn(listener(
            Resume {
                addr,
                token: member.token.clone(),
            },
            socket,
            project,
            stop_rx.clone(),
            (heard.clone(), i),
        )));
    }
    Ok(Listeners {
        stop,
        handles,
        heard,
        connect_time: started.elapsed(),
    })
}

/// How to reopen a member's socket.
struct Resume {
    addr: SocketAddr,
    token: Arc<str>,
}

async fn listener(
    resume: Resume,
    mut socket: Socket,
    project: i64,
    mut stop: watch::Receiver<bool>,
    (heard_count, index): (Arc<Vec<AtomicUsize>>, usize),
) -> Heard {
    let mut heard = Heard::default();
    loop {
        let closed = tokio::select! {
            biased;
            _ = stop.changed() => return heard,
            msg = socket.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let wall = SystemTime::now();
                    let Ok(event) = serde_json::from_str::<Event>(text.as_str()) else {
                        heard.bad_frames += 1;
                        continue;
                    };
                    heard.event_ids.push(event.event_id);
                    match (event.action.as_str(), &event.task) {
                        ("create", Some(task)) if task.project == Some(project) => {
                            heard.created.push(task.id);
                            heard_count[index].fetch_add(1, Ordering::Relaxed);
                            if let Some(us) = event.at.as_deref().and_then(|at| micros_since(at, wall)) {
                                heard.commit_to_receipt.push(us);
                            }
                        }
                        ("reset", _) => heard.resets += 1,
                        _ => {}
                    }
                    continue;
                }
                Some(Ok(Message::Close(frame))) => format!("closed by the server: {frame:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => format!("socket error: {e}"),
                None => "socket ended".to_owned(),
            },
        };
        heard.first_close.get_or_insert(closed);
        match reopen(&resume, &heard, &mut stop).await {
            Ok(Some(s)) => {
                heard.resumes += 1;
                socket = s;
            }
            Ok(None) => return heard,
            Err(e) => {
                heard.gave_up = Some(e);
                return heard;
            }
        }
    }
}

/// Reopens the socket from the last event id heard; `None` when stopped meanwhile.
async fn reopen(
    resume: &Resume,
    heard: &Heard,
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<Socket>, String> {
    let since = heard.event_ids.iter().copied().max().unwrap_or(0);
    let mut last_error = String::new();
    for attempt in 0..5u32 {
        if heard.resumes + attempt >= MAX_RESUMES {
            break;
        }
        if *stop.borrow() {
            return Ok(None);
        }
        match open(
            resume.addr,
            &resume.token,
            Some(since),
            WebSocketConfig::default(),
        )
        .await
        {
            Ok(s) => return Ok(Some(s)),
            Err(e) => last_error = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "gave up after {} resumes: {last_error}",
        heard.resumes
    ))
}

/// One member's count against the project's tasks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Creates the member should have heard: one per task of the project.
    pub expected: u64,
    /// Creates of the project it heard.
    pub deliveries: u64,
    /// Tasks of the project whose create it never heard.
    pub lost: u64,
    /// Creates it heard more than once (each extra hearing counts one).
    pub duplicated: u64,
    /// Creates of tasks the project does not hold.
    pub unexpected: u64,
    /// Event ids heard more than once.
    pub repeated_ids: u64,
    /// Event ids missing between 1 and the last one heard.
    pub gaps: u64,
    /// Events whose id was not above the one before.
    pub out_of_order: u64,
    pub resets: u64,
}

impl Tally {
    /// Counts what a member heard (from `since=0`) against the project's task ids.
    pub fn of(heard: &Heard, tasks: &HashSet<i64>) -> Tally {
        let created: HashSet<i64> = heard.created.iter().copied().collect();
        let ids: HashSet<i64> = heard.event_ids.iter().copied().collect();
        let last = heard.event_ids.iter().copied().max().unwrap_or(0);
        Tally {
            expected: tasks.len() as u64,
            deliveries: heard.created.len() as u64,
            lost: tasks.difference(&created).count() as u64,
            duplicated: (heard.created.len() - created.len()) as u64,
            unexpected: created.difference(tasks).count() as u64,
            repeated_ids: (heard.event_ids.len() - ids.len()) as u64,
            gaps: (1..=last).filter(|id| !ids.contains(id)).count() as u64,
            out_of_order: heard.event_ids.windows(2).filter(|w| w[1] <= w[0]).count() as u64,
            resets: heard.resets,
        }
    }

    pub fn add(&mut self, o: Tally) {
        self.expected += o.expected;
        self.deliveries += o.deliveries;
        self.lost += o.lost;
        self.duplicated += o.duplicated;
        self.unexpected += o.unexpected;
        self.repeated_ids += o.repeated_ids;
        self.gaps += o.gaps;
        self.out_of_order += o.out_of_order;
        self.resets += o.resets;
    }

    /// Every create heard exactly once, under gapless ids in order.
    pub fn exact(&self) -> bool {
        *self
            == Tally {
                expected: self.expected,
                deliveries: self.deliveries,
                ..Tally::default()
            }
            && self.deliveries == self.expected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heard(event_ids: &[i64], created: &[i64]) -> Heard {
        Heard {
            event_ids: event_ids.to_vec(),
            created: created.to_vec(),
            ..Heard::default()
        }
    }

    fn tasks(ids: &[i64]) -> HashSet<i64> {
        ids.iter().copied().collect()
    }

    #[test]
    fn every_create_heard_once_in_order_is_exact() {
        // Event 1 is the member's joining (`project`), 2-4 the creates.
        let t = Tally::of(&heard(&[1, 2, 3, 4], &[10, 11, 12]), &tasks(&[10, 11, 12]));
        assert_eq!(t.expected, 3);
        assert_eq!(t.deliveries, 3);
        assert!(t.exact(), "{t:?}");
    }

    #[test]
    fn a_create_never_heard_is_lost() {
        let t = Tally::of(&heard(&[1, 2, 3], &[10, 11]), &tasks(&[10, 11, 12]));
        assert_eq!(t.lost, 1);
        assert!(!t.exact());
    }

    #[test]
    fn a_create_heard_twice_is_duplicated_and_its_id_repeated() {
        let t = Tally::of(&heard(&[1, 2, 3, 3], &[10, 11, 11]), &tasks(&[10, 11]));
        assert_eq!((t.lost, t.duplicated, t.repeated_ids), (0, 1, 1));
        assert_eq!(t.out_of_order, 1);
        assert!(!t.exact());
    }

    #[test]
    fn a_skipped_event_id_is_a_gap() {
        let t = Tally::of(&heard(&[1, 2, 4], &[10, 11]), &tasks(&[10, 11]));
        assert_eq!(t.gaps, 1);
        assert!(!t.exact());
    }

    #[test]
    fn a_create_of_a_task_the_project_lacks_is_unexpected() {
        let t = Tally::of(&heard(&[1, 2, 3], &[10, 99]), &tasks(&[10]));
        assert_eq!((t.lost, t.unexpected), (0, 1));
        assert!(!t.exact());
    }

    #[test]
    fn a_member_that_heard_nothing_lost_everything() {
        let t = Tally::of(&Heard::default(), &tasks(&[10, 11]));
        assert_eq!((t.expected, t.deliveries, t.lost), (2, 0, 2));
        assert!(!t.exact());
    }

    #[test]
    fn tallies_add_up() {
        let mut sum = Tally::of(&heard(&[1, 2], &[10]), &tasks(&[10]));
        sum.add(Tally::of(&heard(&[1], &[]), &tasks(&[10])));
        assert_eq!((sum.expected, sum.deliveries, sum.lost), (2, 1, 1));
        assert!(!sum.exact());
    }
}
