//! The few EC2 calls the simulator makes in the emulator (moto) so that recovered
//! instances exist there: EC2's query protocol, form in, XML out.

use std::fmt::Write;

#[derive(Debug, thiserror::Error)]
pub enum Ec2Error {
    #[error("EC2 emulator at {url} did not answer: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("EC2 emulator refused {action}: HTTP {status}: {body}")]
    Refused {
        action: &'static str,
        status: u16,
        body: String,
    },
    #[error("EC2 emulator has no machine images to launch from")]
    NoImage,
}

#[derive(Clone)]
pub struct Ec2 {
    client: reqwest::Client,
    url: String,
    region: String,
}

/// A created instance: ID and private address.
pub type Created = (String, String);

/// Where an instance lands: the subnet and security groups of the launch template
/// version DRS launches from (none: EC2's defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Network {
    pub subnet: Option<String>,
    pub groups: Vec<String>,
}

impl Ec2 {
    pub fn new(client: reqwest::Client, url: &str, region: &str) -> Self {
        Self {
            client,
            url: url.trim_end_matches('/').to_owned(),
            region: region.to_owned(),
        }
    }

    async fn call(
        &self,
        action: &'static str,
        params: &[(String, String)],
    ) -> Result<String, Ec2Error> {
        let mut form = format!("Action={action}&Version=2016-11-15");
        for (k, v) in params {
            let _ = write!(form, "&{}={}", encode(k), encode(v));
        }
        // moto picks the service and region from the credential scope.
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=drssim/20250101/{}/ec2/aws4_request, SignedHeaders=host, Signature=0",
            self.region
        );
        let response = self
            .client
            .post(format!("{}/", self.url))
            .header("Authorization", auth)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|source| Ec2Error::Unreachable {
                url: self.url.clone(),
                source,
            })?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if status >= 300 {
            return Err(Ec2Error::Refused {
                action,
                status,
                body,
            });
        }
        Ok(body)
    }

    pub async fn first_image(&self) -> Result<String, Ec2Error> {
        let xml = self.call("DescribeImages", &[]).await?;
        values(&xml, "imageId")
            .into_iter()
            .next()
            .ok_or(Ec2Error::NoImage)
    }

    /// Creates launch template `name` (as DRS does for a new source server); its ID.
    /// One that exists already (a concurrent creation) is looked up instead.
    pub async fn create_launch_template(&self, name: &str) -> Result<String, Ec2Error> {
        let params = vec![
            ("LaunchTemplateName".into(), name.to_owned()),
            ("LaunchTemplateData.InstanceType".into(), "t3.medium".into()),
        ];
        match self.call("CreateLaunchTemplate", &params).await {
            Ok(xml) => values(&xml, "launchTemplateId")
                .into_iter()
                .next()
                .ok_or_else(|| Ec2Error::Refused {
                    action: "CreateLaunchTemplate",
                    status: 200,
                    body: xml,
                }),
            Err(Ec2Error::Refused { body, .. }) if body.contains("AlreadyExists") => {
                let params = vec![("LaunchTemplateName.1".into(), name.to_owned())];
                let xml = self.call("DescribeLaunchTemplates", &params).await?;
                values(&xml, "launchTemplateId")
                    .into_iter()
                    .next()
                    .ok_or(Ec2Error::Refused {
                        action: "DescribeLaunchTemplates",
                        status: 200,
                        body: xml,
                    })
            }
            Err(e) => Err(e),
        }
    }

    /// The network of template `id`'s default version: DRS launches from the default.
    pub async fn default_network(&self, id: &str) -> Result<Network, Ec2Error> {
        let params = vec![
            ("LaunchTemplateId".into(), id.to_owned()),
            ("LaunchTemplateVersion.1".into(), "$Default".into()),
        ];
        let xml = self.call("DescribeLaunchTemplateVersions", &params).await?;
        let interfaces = values(&xml, "networkInterfaceSet").into_iter().next();
        let (subnet, groups) = match &interfaces {
            Some(set) => (
                values(set, "subnetId").into_iter().next(),
                values(set, "groupId"),
            ),
            None => (
                None,
                values(&xml, "securityGroupIdSet")
                    .iter()
                    .flat_map(|set| values(set, "item"))
                    .collect(),
            ),
        };
        Ok(Network { subnet, groups })
    }

    /// Runs `count` instances tagged with their source servers (in order), in `network`.
    pub async fn run_instances(
        &self,
        image: &str,
        sources: &[String],
        drill: bool,
        network: &Network,
    ) -> Result<Vec<Created>, Ec2Error> {
        let count = sources.len().to_string();
        let mut params = vec![
            ("ImageId".into(), image.to_owned()),
            ("InstanceType".into(), "t3.medium".into()),
            ("MinCount".into(), count.clone()),
            ("MaxCount".into(), count),
            ("TagSpecification.1.ResourceType".into(), "instance".into()),
            (
                "TagSpecification.1.Tag.1.Key".into(),
                "AWSElasticDisasterRecoveryManaged".into(),
            ),
            (
                "TagSpecification.1.Tag.1.Value".into(),
                "drs.amazonaws.com".into(),
            ),
            ("TagSpecification.1.Tag.2.Key".into(), "Drill".into()),
            ("TagSpecification.1.Tag.2.Value".into(), drill.to_string()),
        ];
        params.push((
            "TagSpecification.1.Tag.3.Key".into(),
            "SourceServers".into(),
        ));
        params.push((
            "TagSpecification.1.Tag.3.Value".into(),
            sources.join(",").chars().take(250).collect(),
        ));
        if let Some(subnet) = &network.subnet {
            params.push(("SubnetId".into(), subnet.clone()));
        }
        for (i, group) in network.groups.iter().enumerate() {
            params.push((format!("SecurityGroupId.{}", i + 1), group.clone()));
        }
        let xml = self.call("RunInstances", &params).await?;
        Ok(instances(&xml))
    }

    /// Which of `ids` EC2 still has running or starting (not terminated or stopping).
    pub async fn alive(&self, ids: &[String]) -> Result<Vec<String>, Ec2Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut params: Vec<(String, String)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (format!("InstanceId.{}", i + 1), id.clone()))
            .collect();
        params.push(("Filter.1.Name".into(), "instance-state-name".into()));
        params.push(("Filter.1.Value.1".into(), "pending".into()));
        params.push(("Filter.1.Value.2".into(), "running".into()));
        let xml = self.call("DescribeInstances", &params).await?;
        Ok(values(&xml, "instanceId"))
    }

    pub async fn terminate_instances(&self, ids: &[String]) -> Result<(), Ec2Error> {
        let params: Vec<(String, String)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (format!("InstanceId.{}", i + 1), id.clone()))
            .collect();
        self.call("TerminateInstances", &params).await.map(|_| ())
    }
}

/// Text of every `<tag>…</tag>` element, in order (moto's XML is regular and flat here).
fn values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        rest = &rest[start + open.len()..];
        let Some(end) = rest.find(&close) else { break };
        out.push(rest[..end].trim().to_owned());
        rest = &rest[end + close.len()..];
    }
    out
}

/// (instance ID, first private address after it) for each instance in a reservation.
fn instances(xml: &str) -> Vec<Created> {
    let marker = "<instanceId>";
    let mut out = Vec::new();
    let starts: Vec<usize> = xml.match_indices(marker).map(|(i, _)| i).collect();
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(xml.len());
        let segment = &xml[start..end];
        if let Some(id) = values(segment, "instanceId").into_iter().next() {
            let ip = values(segment, "privateIpAddress")
                .into_iter()
                .next()
                .unwrap_or_else(|| "10.0.0.1".into());
            out.push((id, ip));
        }
    }
    out
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_in_order() {
        let xml = "<a><instanceId>i-1</instanceId><x/><instanceId> i-2 </instanceId></a>";
        assert_eq!(values(xml, "instanceId"), vec!["i-1", "i-2"]);
        assert!(values(xml, "imageId").is_empty());
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
        let run = "<item><instanceId>i-1</instanceId><privateIpAddress>10.0.0.5</privateIpAddress>\
            <networkInterfaceSet><privateIpAddress>10.0.0.5</privateIpAddress></networkInterfaceSet></item>\
            <item><instanceId>i-2</instanceId><privateIpAddress>10.0.0.6</privateIpAddress></item>";
        assert_eq!(
            instances(run),
            vec![
                ("i-1".to_owned(), "10.0.0.5".to_owned()),
                ("i-2".to_owned(), "10.0.0.6".to_owned())
            ]
        );
    }
}
