//! Launch settings as code over the real wire (API → drs-sim): a plan's declared DRS
//! launch settings are applied when it is saved, readiness names what someone changed by
//! hand, and applying on demand puts it back.

use reqwest::Method;
use serde_json::json;
use system_tests::{Env, Setup};

const DB: &str = "s-0a1b2c3d4e5f60001";
const WEB: &str = "s-0a1b2c3d4e5f60002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_launch_settings_are_applied_and_drift_is_reported() {
    let env = Env::start(Setup::default()).await;
    let api = env.start_api().await;
    for (id, server) in [("db", DB), ("web", WEB)] {
        let (status, body) = api
            .call(
                Some("PlanAuthor"),
                Method::POST,
                "/api/protection-groups",
                Some(json!({"id": id, "name": id, "servers": [server]})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let plan = |disposition: &str| {
        json!({"plan": {"id": "settings", "name": "Settings",
            "launchSettings": {"launchDisposition": disposition, "copyTags": true,
                               "licensing": {"osByol": false}},
            "waves": [{"name": "W", "groups": [
                {"group": "db", "launchSettings": {"copyPrivateIp": true}},
                {"group": "web", "launchSettings": {"copyTags": false}}]}]}})
    };
    // A value DRS does not have is refused, naming it.
    let (status, body) = api
        .call(
            Some("PlanAuthor"),
            Method::POST,
            "/api/plans",
            Some(plan("PAUSED")),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("PAUSED"), "{body}");

    let (status, body) = api
        .call(
            Some("PlanAuthor"),
            Method::POST,
            "/api/plans",
            Some(plan("STOPPED")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let read = |server: &'static str| {
        let drs = env.drs.clone();
        async move {
            drs.get_launch_configuration()
                .source_server_id(server)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e:?}"))
        }
    };
    let db = read(DB).await;
    let web = read(WEB).await;
    assert_eq!(
        (
            db.launch_disposition().map(|d| d.as_str()),
            db.copy_private_ip(),
            db.copy_tags(),
            db.licensing().and_then(|l| l.os_byol())
        ),
        (Some("STOPPED"), Some(true), Some(true), Some(false)),
        "the plan's settings with the db group's own"
    );
    assert_eq!(
        (web.copy_tags(), web.copy_private_ip()),
        (Some(false), Some(false)),
        "the web group's copyTags wins; copyPrivateIp is not declared for it"
    );
    let (_, ready) = api.get("Viewer", "/api/plans/settings/preflight").await;
    assert_eq!(ready["launchSettingsDrift"], json!([]), "{ready}");

    // Someone changes one by hand in the console.
    env.drs
        .update_launch_configuration()
        .source_server_id(WEB)
        .copy_tags(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let (_, ready) = api.get("Viewer", "/api/plans/settings/preflight").await;
    assert_eq!(
        ready["launchSettingsDrift"],
        json!([{"server": WEB, "setting": "copyTags", "wanted": false, "found": true}]),
        "{ready}"
    );
    assert!(
        ready["warnings"]
            .as_array()
            .is_some_and(|w| w.iter().any(|w| w["server"] == WEB
                && w["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("copyTags")))),
        "{ready}"
    );

    // Applied on demand (authors only), the drift is gone.
    let path = "/api/plans/settings/launch-settings";
    let (status, _) = api.call(Some("Operator"), Method::POST, path, None).await;
    assert_eq!(status, 403);
    let (status, applied) = api.call(Some("PlanAuthor"), Method::POST, path, None).await;
    assert_eq!(
        (
            status,
            applied["servers"].clone(),
            applied["failed"].clone()
        ),
        (200, json!(1), json!([])),
        "only the drifted server is written: {applied}"
    );
    assert_eq!(read(WEB).await.copy_tags(), Some(false));
    let (_, ready) = api.get("Viewer", "/api/plans/settings/preflight").await;
    assert_eq!(ready["launchSettingsDrift"], json!([]), "{ready}");
    env.stop().await;
}
