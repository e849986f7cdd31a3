//! The link breaks in the middle of a push: the client cannot know whether
//! the batch committed, resends it, and every entry is still stored exactly
//! once (a real TCP proxy between client and server cuts the connection).

use crate::common;

use std::time::Duration;

use common::{Server, sale};
use sentra_chaos_proxy::{Mode, Proxy};
use sentra_protocol::payload::ShiftOpened;
use sentra_protocol::wire::{DeviceKind, PROTOCOL_HEADER, PushResponse};
use uuid::Uuid;

#[tokio::test]
async fn a_push_cut_mid_flight_and_resent_is_stored_exactly_once() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let addr = s.url.trim_start_matches("http://").parse().expect("addr");
    let proxy = Proxy::start(addr).await.expect("proxy");
    let shift = Uuid::now_v7();
    let mut batches = vec![vec![t.entry(&ShiftOpened {
        shift_id: shift,
        opening_float: 0,
        cashier: None,
    })]];
    for b in 0..6 {
        batches.push(
            (0..50)
                .map(|i| t.entry(&sale(&format!("R-{b}-{i}"), shift, &[("A", 1000, 1000)])))
                .collect(),
        );
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let push = |entries: Vec<sentra_protocol::Entry>| {
        let client = client.clone();
        let url = format!("{}/v1/push", proxy.url());
        let cred = t.credential.clone();
        async move {
            client
                .post(url)
                .header(PROTOCOL_HEADER, "1")
                .bearer_auth(cred)
                .json(&serde_json::json!({ "entries": entries }))
                .send()
                .await
        }
    };
    let mut cut_requests = 0;
    for (i, batch) in batches.iter().enumerate() {
        // Every other batch: cut the link while the request is in flight
        // (before or after the server commits; the client cannot tell).
        if i % 2 == 1 {
            proxy.set_delay(Duration::from_millis(30 + 20 * i as u64));
            let in_flight = tokio::spawn(push(batch.clone()));
            tokio::time::sleep(Duration::from_millis(60)).await;
            proxy.set_mode(Mode::Cut);
            let r = in_flight.await.expect("join");
            if r.is_err() {
                cut_requests += 1;
            }
            proxy.set_mode(Mode::Forward);
            proxy.set_delay(Duration::ZERO);
        }
        // (Re)send until acknowledged.
        let resp = push(batch.clone())
            .await
            .expect("push through the restored link");
        assert_eq!(resp.status().as_u16(), 200);
        let r: PushResponse = resp.json().await.expect("response");
        assert!(r.refused.is_empty(), "{:?}", r.refused);
        assert_eq!(r.acks[0].acked_seq, batch.last().expect("batch").seq);
    }
    assert!(cut_requests >= 1, "no request was actually cut");
    assert_eq!(s.count("SELECT count(*) FROM journal").await, 301);
    assert_eq!(s.count("SELECT count(*) FROM sales").await, 300);
    let l = sentra_sync::admin::ledger::ledger(&s.pool, "JKT01", None, None)
        .await
        .expect("ledger");
    assert_eq!(l.sales_count, 300);
    assert_eq!(l.payments["cash"], 300 * 1000);
    s.stop().await;
}
