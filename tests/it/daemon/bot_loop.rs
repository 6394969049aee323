//! The README's bot loop over HTTP ("A bot's turn"), run: its shell block, taken from
//! the README as it stands, runs turn after turn with `bash` against a real daemon until
//! it has summarized and set a checkpoint.

use std::process::Command;

use serde_json::Value;

use crate::fixtures::daemon::Convstore;

const README: &str = include_str!("../../../README.md");

/// The README's shell block that asks for a context.
fn block() -> &'static str {
    README
        .split("```sh\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block))
        .find(|block| block.contains("/context?max_tokens"))
        .expect("the README has the bot loop's shell block")
}

async fn get(client: &awc::Client, url: String) -> Value {
    let mut answer = client.get(url).send().await.expect("the daemon answers");
    assert!(answer.status().is_success(), "{}", answer.status());
    answer.json().await.expect("JSON")
}

#[actix_rt::test]
async fn the_readme_curl_loop_summarizes_what_no_longer_fits() {
    let mut daemon = Convstore::new("serve").start();
    let block = block();
    for turn in 0..10 {
        let output = Command::new("bash")
            .args(["-euo", "pipefail", "-c", block])
            .env("CONVSTORE_URL", &daemon.base)
            .env("BUDGET", "30")
            .env("USER_KEY", "readme:bot")
            .env("QUESTION", format!("Question {turn}: will it rain?"))
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "turn {turn}: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            daemon.log()
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "It is sunny in Paris today."
        );
    }
    let client = awc::Client::default();
    let base = &daemon.base;
    let conversation = get(
        &client,
        format!("{base}/v1/conversations/by-user/readme%3Abot"),
    )
    .await;
    assert_eq!(conversation["message_count"], 20);
    let checkpoint = conversation["summary_covers_through_id"]
        .as_i64()
        .expect("a checkpoint was set");
    assert!(
        conversation["summary"]
            .as_str()
            .unwrap()
            .starts_with("Earlier: Question ")
    );
    let id = &conversation["id"];
    let context = get(
        &client,
        format!("{base}/v1/conversations/{id}/context?max_tokens=30"),
    )
    .await;
    let messages = context["messages"].as_array().unwrap();
    assert!(!messages.is_empty());
    assert!(
        messages
            .iter()
            .all(|m| m["id"].as_i64().unwrap() > checkpoint)
    );
    assert_eq!(messages[0]["role"], "user");
    assert!(context["total_tokens"].as_i64().unwrap() <= 30);
    daemon.terminate();
    daemon.wait_exit(std::time::Duration::from_secs(30)).await;
}
