//! Message search (contract v2): whole words and prefixes, every word required, case-insensitive, in the
//! caller's chats only, deleted messages never, newest first; the same answers on PostgreSQL and SQLite.

use serde_json::{Value, json};

use crate::helpers::{TestApp, code, id, spawn_app};

async fn found(app: &TestApp, token: &str, query: &str) -> anyhow::Result<Vec<String>> {
    let (status, body) = app.get(token, &format!("/search/messages?{query}")).await?;
    anyhow::ensure!(status == 200, "search {query} answered {status}: {body}");
    Ok(body
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["text"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default())
}

fn q(words: &str) -> String {
    format!("q={}", urlencoding(words))
}

fn urlencoding(raw: &str) -> String {
    raw.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[tokio::test]
async fn search_finds_words_and_prefixes_in_the_callers_chats_newest_first() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let ((_, alice), (bob_user, bob)) = (app.register("alice").await?, app.register("bob").await?);
    let (carol_user, carol) = app.register("carol").await?;
    let (_, with_bob) = app.post(&alice, "/chats/private", json!({"user_id": id(&bob_user)})).await?;
    let (_, with_carol) = app.post(&alice, "/chats/private", json!({"user_id": id(&carol_user)})).await?;
    let (with_bob, with_carol) = (id(&with_bob), id(&with_carol));
    let texts = [
        (with_bob, "Deploy the release on Friday"),
        (with_bob, "the RELEASE notes are ready"),
        (with_bob, "Привет, мир! Ёлка"),
        (with_bob, "Crème brûlée at café-bar; v2.0 shipped"),
        (with_carol, "release party, carol only"),
    ];
    let mut stored: Vec<Value> = Vec::new();
    for (chat, text) in texts {
        stored.push(app.send(&alice, chat, text).await?);
    }

    // Whole words and prefixes, any case, every word required, newest first.
    assert_eq!(found(&app, &bob, &q("release")).await?, [texts[1].1, texts[0].1]);
    assert_eq!(found(&app, &bob, &q("REL not")).await?, [texts[1].1]);
    assert_eq!(found(&app, &bob, &q("elease")).await?, Vec::<String>::new(), "a word's middle does not match");
    assert_eq!(found(&app, &bob, &q("мир ёл")).await?, [texts[2].1]);
    assert_eq!(found(&app, &bob, &q("creme")).await?, Vec::<String>::new(), "accents are kept, not folded");
    assert_eq!(found(&app, &bob, &q("crè brû café v2 0")).await?, [texts[3].1]);
    assert_eq!(found(&app, &bob, &q("bar")).await?, [texts[3].1], "café-bar is two words");

    // Only the caller's chats; chat_id narrows; a foreign chat is 403, an unknown one 404.
    assert_eq!(found(&app, &alice, &q("release")).await?.len(), 3);
    assert_eq!(found(&app, &carol, &q("release")).await?, [texts[4].1]);
    assert_eq!(found(&app, &alice, &format!("{}&chat_id={with_carol}", q("release"))).await?, [texts[4].1]);
    let (status, body) = app.get(&carol, &format!("/search/messages?{}&chat_id={with_bob}", q("release"))).await?;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    let (status, _) = app.get(&carol, &format!("/search/messages?{}&chat_id=987654", q("release"))).await?;
    assert_eq!(status, 404);

    // Paging: limit and before_id.
    let (_, first) = app.get(&alice, &format!("/search/messages?{}&limit=1", q("release"))).await?;
    assert_eq!(first.as_array().map(Vec::len), Some(1));
    let next = found(&app, &alice, &format!("{}&before_id={}", q("release"), id(&first[0]))).await?;
    assert_eq!(next, [texts[1].1, texts[0].1]);

    // An edit is searched by its new words; a deleted message never matches.
    let edited = format!("/chats/{with_bob}/messages/{}", id(&stored[0]));
    let (status, _) = app.patch(&alice, &edited, json!({"text": "Deploy on Monday"})).await?;
    assert_eq!(status, 200);
    assert_eq!(found(&app, &bob, &q("release")).await?, [texts[1].1]);
    assert_eq!(found(&app, &bob, &q("monday")).await?, ["Deploy on Monday"]);
    let (status, _) = app.delete(&alice, &format!("/chats/{with_bob}/messages/{}", id(&stored[1]))).await?;
    assert_eq!(status, 204);
    assert_eq!(found(&app, &bob, &q("release")).await?, Vec::<String>::new());
    Ok(())
}

#[tokio::test]
async fn a_query_without_words_or_with_a_bad_limit_is_refused() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let (_, token) = app.register("alice").await?;
    for query in ["q=", "q=%20%21%3F", "q=a%00b", "q=ok&limit=0", "q=ok&limit=101"] {
        let (status, body) = app.get(&token, &format!("/search/messages?{query}")).await?;
        assert_eq!((status, code(&body)), (422, "invalid_input"), "{query}: {body}");
    }
    let (status, body) = app.get(&token, "/search/messages").await?;
    assert_eq!(status, 400, "q is required: {body}");
    Ok(())
}
