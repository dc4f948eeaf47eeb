//! The API over the real wire: Cognito tokens from the emulator's user pool, DynamoDB in
//! moto, DRS in the simulator.

use reqwest::Method;
use serde_json::json;
use system_tests::{Env, Setup, TABLE};

const DB1: &str = "s-0a1b2c3d4e5f60001";
const DB2: &str = "s-0a1b2c3d4e5f60002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_refuse_the_unauthenticated_and_the_unauthorized() {
    let env = Env::start(Setup::default()).await;
    let api = env.start_api().await;
    let (status, body) = api.call(None, Method::GET, "/api/health", None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));

    let (status, body) = api
        .call(None, Method::GET, "/api/protection-groups", None)
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "Unauthorized");

    let garbage = api
        .http
        .get(format!("{}/api/protection-groups", api.url))
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status().as_u16(), 401);

    for (n, role) in ["Admin", "PlanAuthor", "Operator", "Approver", "Viewer"]
        .into_iter()
        .enumerate()
    {
        let (status, body) = api.call(Some(role), Method::GET, "/api/me", None).await;
        assert_eq!(status, 200, "{role}: {body}");
        assert_eq!(body["roles"], json!([role]));
        let (status, _) = api
            .call(Some(role), Method::GET, "/api/protection-groups", None)
            .await;
        assert_eq!(status, 200, "{role} may list groups");
        let group = json!({"name": format!("Group of {role}"), "servers": [format!("s-0a1b2c3d4e5f6001{}", n + 4)]});
        let (status, body) = api
            .call(
                Some(role),
                Method::POST,
                "/api/protection-groups",
                Some(group),
            )
            .await;
        let allowed = matches!(role, "Admin" | "PlanAuthor");
        assert_eq!(status, if allowed { 201 } else { 403 }, "{role}: {body}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_claim_servers_once_and_lock_optimistically() {
    let env = Env::start(Setup::default()).await;
    let api = env.start_api().await;
    let author = Some("PlanAuthor");

    let (status, created) = api
        .call(
            author,
            Method::POST,
            "/api/protection-groups",
            Some(json!({"name": "Shop DB", "servers": [DB1, DB2]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], "shop-db");
    assert_eq!(created["version"], 1);

    // Another group claiming DB2 is refused, naming the server and its owner.
    let (status, body) = api
        .call(
            author,
            Method::POST,
            "/api/protection-groups",
            Some(json!({"name": "Other", "servers": [DB2]})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(DB2) && message.contains("shop-db"),
        "{message}"
    );

    // A tag selector that overlaps is refused the same way.
    let (status, body) = api
        .call(
            author,
            Method::POST,
            "/api/protection-groups",
            Some(json!({"name": "All shop", "tagSelector": {"Application": "shop"}})),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    // Validation: every problem with its path; unknown servers; malformed JSON.
    let (status, body) = api
        .call(
            author,
            Method::POST,
            "/api/protection-groups",
            Some(json!({"name": "", "servers": ["s-1", DB1]})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let paths: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"name") && paths.contains(&"servers[0]"),
        "{paths:?}"
    );
    let (status, body) = api
        .call(
            author,
            Method::POST,
            "/api/protection-groups",
            Some(json!({"name": "Ghost", "servers": ["s-0fffffffffffffff1"]})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["details"][0]["path"], "servers[0]");
    let malformed = api
        .http
        .post(format!("{}/api/protection-groups", api.url))
        .bearer_auth(api.pool.token("PlanAuthor"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status().as_u16(), 400);

    // Replace: the version read is required and must be current.
    let stale = json!({"name": "Shop DB", "servers": [DB1], "version": 7});
    let (status, body) = api
        .call(
            author,
            Method::PUT,
            "/api/protection-groups/shop-db",
            Some(stale),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("StaleVersion")),
        "{body}"
    );
    let fresh = json!({"name": "Shop DB", "servers": [DB1], "version": 1});
    let (status, body) = api
        .call(
            author,
            Method::PUT,
            "/api/protection-groups/shop-db",
            Some(fresh),
        )
        .await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(2)), "{body}");

    // DB2 was released, so another group may now claim it.
    let (status, body) = api
        .call(
            author,
            Method::POST,
            "/api/protection-groups",
            Some(json!({"name": "Other", "servers": [DB2]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // Source servers show their owners.
    let (status, body) = api.get("Viewer", "/api/source-servers").await;
    assert_eq!(status, 200);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 30);
    let owner = |id: &str| items.iter().find(|s| s["id"] == id).unwrap()["protectionGroup"].clone();
    assert_eq!((owner(DB1), owner(DB2)), (json!("shop-db"), json!("other")));

    // Delete needs the version; then the servers are free.
    let (status, _) = api
        .call(author, Method::DELETE, "/api/protection-groups/other", None)
        .await;
    assert_eq!(status, 400);
    let (status, _) = api
        .call(
            author,
            Method::DELETE,
            "/api/protection-groups/other?version=1",
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = api
        .call(author, Method::GET, "/api/protection-groups/other", None)
        .await;
    assert_eq!(status, 404);

    // Every mutating call was audited, with who did it.
    let audit = env
        .ddb
        .scan()
        .table_name(TABLE)
        .filter_expression("begins_with(pk, :a)")
        .expression_attribute_values(":a", system_tests::s("AUDIT#"))
        .send()
        .await
        .unwrap();
    let items = audit.items();
    assert!(items.len() >= 8, "{} audit records", items.len());
    assert!(
        items
            .iter()
            .all(|i| system_tests::text(i, "user") == "planauthor")
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_groups_claiming_one_server_at_once_exactly_one_wins() {
    let env = Env::start(Setup::default()).await;
    let api = env.start_api().await;
    for round in 0..5 {
        let server = format!("s-0a1b2c3d4e5f6001{}", round + 4);
        let a = api.call(
            Some("Admin"),
            Method::POST,
            "/api/protection-groups",
            Some(json!({"name": format!("A{round}"), "servers": [server]})),
        );
        let b = api.call(
            Some("PlanAuthor"),
            Method::POST,
            "/api/protection-groups",
            Some(json!({"name": format!("B{round}"), "servers": [server]})),
        );
        let ((sa, _), (sb, _)) = tokio::join!(a, b);
        let mut statuses = [sa, sb];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "round {round}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_compile_deploy_version_and_lock() {
    let env = Env::start(Setup::default()).await;
    let api = env.start_api().await;
    let plan = api.example_groups("three-tier").await;
    let author = Some("PlanAuthor");

    let (status, body) = api
        .call(
            Some("Viewer"),
            Method::POST,
            "/api/plans",
            Some(json!({"plan": plan})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, created) = api
        .call(
            author,
            Method::POST,
            "/api/plans",
            Some(json!({"plan": plan})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["version"], 1);
    assert_eq!(created["servers"], 11);
    let arn = created["stateMachineArn"].as_str().unwrap().to_owned();
    assert!(arn.ends_with(":stateMachine:drs-plan-shop-dr"), "{arn}");
    // The machine exists in Step Functions and is exactly what aslgen compiles.
    let described = env
        .sfn
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    let deployed: serde_json::Value = serde_json::from_str(&described.definition).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&system_tests::statemachine("shop-dr")).unwrap();
    assert_eq!(deployed, expected);
    let asl = api
        .http
        .get(format!("{}/api/plans/shop-dr/asl", api.url))
        .bearer_auth(api.pool.token("Viewer"))
        .send()
        .await
        .unwrap();
    assert_eq!(asl.status().as_u16(), 200);
    assert_eq!(
        asl.text().await.unwrap(),
        system_tests::statemachine("shop-dr")
    );
    let graph = api
        .http
        .get(format!("{}/api/plans/shop-dr/graph?format=dot", api.url))
        .bearer_auth(api.pool.token("Operator"))
        .send()
        .await
        .unwrap();
    assert!(graph.text().await.unwrap().starts_with("digraph plan"));

    // Every validation problem, with its path.
    let mut broken = plan.clone();
    broken["waves"][1]["groups"][0]["dependsOn"][0]["group"] = json!("no-such-group");
    broken["waves"][0]["name"] = json!("");
    let (status, body) = api
        .call(
            author,
            Method::POST,
            "/api/plans",
            Some(json!({"plan": broken})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let paths: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"plan.waves[0].name"), "{paths:?}");
    assert!(
        paths.contains(&"plan.waves[1].groups[0].dependsOn[0].group"),
        "{paths:?}"
    );
    let (status, body) = api
        .call(
            author,
            Method::POST,
            "/api/plans",
            Some(json!({"plan": {"id": "x"}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["details"][0]["path"], "plan");

    // Two concurrent updates of version 1: exactly one wins, the other is told it is stale.
    let mut renamed = plan.clone();
    renamed["name"] = json!("Shop DR (renamed)");
    let first = api.call(
        author,
        Method::PUT,
        "/api/plans/shop-dr",
        Some(json!({"plan": plan, "version": 1})),
    );
    let second = api.call(
        Some("Admin"),
        Method::PUT,
        "/api/plans/shop-dr",
        Some(json!({"plan": renamed, "version": 1})),
    );
    let ((s1, b1), (s2, b2)) = tokio::join!(first, second);
    let mut statuses = [s1, s2];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{b1} {b2}");
    let (_, current) = api
        .call(author, Method::GET, "/api/plans/shop-dr", None)
        .await;
    assert_eq!(current["version"], 2);
    let winner = if s1 == 200 { &b1 } else { &b2 };
    assert_eq!(
        current["name"], winner["name"],
        "the winning update is the one kept"
    );
    let (status, versions) = api
        .call(author, Method::GET, "/api/plans/shop-dr/versions", None)
        .await;
    assert_eq!(
        (status, versions["items"].as_array().unwrap().len()),
        (200, 2)
    );

    // Export as a plan file and import it back.
    let exported = api
        .http
        .get(format!("{}/api/plans/shop-dr/export", api.url))
        .bearer_auth(api.pool.token("Viewer"))
        .send()
        .await
        .unwrap();
    let yaml = exported.text().await.unwrap();
    assert!(
        yaml.contains("protectionGroups:") && yaml.contains("id: shop-dr"),
        "{yaml}"
    );
    let imported = api
        .http
        .post(format!("{}/api/plans/import", api.url))
        .bearer_auth(api.pool.token("PlanAuthor"))
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .unwrap();
    let imported_status = imported.status().as_u16();
    assert_eq!(imported_status, 200, "{}", imported.text().await.unwrap());

    // Delete with the version read; the machine goes too.
    let (status, _) = api
        .call(author, Method::DELETE, "/api/plans/shop-dr?version=3", None)
        .await;
    assert_eq!(status, 204);
    assert!(
        env.sfn
            .describe_state_machine()
            .state_machine_arn(&arn)
            .send()
            .await
            .is_err()
    );
    env.stop().await;
}

/// Every route of the one table, called by every role and without a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_role_matrix_is_enforced() {
    let env = Env::start(Setup::default()).await;
    let api = env.start_api().await;
    let mut checked = 0;
    for rule in api::policy::rules() {
        let path = rule.path.replace("{id}", "matrix-probe");
        let method = Method::from_bytes(rule.method.as_str().as_bytes()).unwrap();
        let body = (method == Method::POST || method == Method::PUT).then(|| json!({}));
        let (status, _) = api.call(None, method.clone(), &path, body.clone()).await;
        match rule.roles {
            None => assert_ne!(status, 401, "{} {path} is public", rule.method),
            Some(_) => assert_eq!(status, 401, "{} {path} without a token", rule.method),
        }
        for role in system_tests::cognito::ROLES {
            let (status, body_out) = api
                .call(Some(role), method.clone(), &path, body.clone())
                .await;
            let allowed = rule
                .roles
                .is_none_or(|roles| roles.iter().any(|r| r.name() == role));
            if allowed {
                assert!(
                    status != 401 && status != 403,
                    "{role} may {} {path}: {status} {body_out}",
                    rule.method
                );
                assert!(
                    status < 500,
                    "{role} {} {path} answered {status}: {body_out}",
                    rule.method
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{role} may not {} {path}: {body_out}",
                    rule.method
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 5 * 25, "{checked} calls");
    env.stop().await;
}
