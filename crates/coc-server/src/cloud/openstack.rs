//! The OpenStack compute adapter (R2): signs in to Keystone v3 with a
//! password scoped to the account's project (`POST /v3/auth/tokens`, the
//! token in `X-Subject-Token`, the service catalog in the body), then, in
//! each region of the catalog's public `compute` endpoints (or the ones
//! the account names), reads flavors (`GET /flavors/detail`), images from
//! the region's `image` service (`GET /v2/images`, following `next`) and
//! servers (`GET /servers/detail`, following `servers_links`). For power
//! operations (P4) it starts, stops, reboots and rebuilds a server
//! (`POST /servers/{id}/action`) and reads its state (`GET /servers/{id}`).
//!
//! A server's flavor is taken from the server itself when the compute API
//! embeds it (microversion 2.47 and later: `original_name`, `vcpus`,
//! `ram`, `disk`), else from the flavor list by id. Every URL is checked
//! by the egress policy; every answer is read up to [`super::MAX_BODY`].

use std::collections::HashMap;

use coc_domain::cloud::{CloudAccountSpec, CloudServer};
use coc_domain::egress::Egress;
use coc_domain::resource_op::power::{PowerAction, ServerState};
use serde_json::{Value, json};

use super::{MAX_BODY, Provider, REQUEST_TIMEOUT};

/// Most pages followed per list (servers, images, flavors).
pub const MAX_PAGES: usize = 100;
/// Page size asked of list calls.
pub const PAGE: usize = 1000;
/// The compute microversion from which a rebuild takes `key_name`.
pub const KEY_NAME_MICROVERSION: &str = "2.54";

/// An OpenStack account, ready to be listed.
pub struct OpenStack<'a> {
    spec: &'a CloudAccountSpec,
    http: &'a reqwest::Client,
    egress: &'a Egress,
}

/// A public endpoint of the catalog: (service type, region, URL).
type Endpoint = (String, String, String);

impl<'a> OpenStack<'a> {
    /// The adapter for `spec` (whose password is set), calling out through
    /// `http` under `egress`.
    pub fn new(spec: &'a CloudAccountSpec, http: &'a reqwest::Client, egress: &'a Egress) -> Self {
        OpenStack { spec, http, egress }
    }

    /// Checks `url` against the egress policy.
    fn checked(&self, url: &str) -> Result<reqwest::Url, String> {
        let u = reqwest::Url::parse(url).map_err(|_| format!("'{url}' is not a URL"))?;
        crate::egress::check_url(self.egress, &u)?;
        Ok(u)
    }

    /// Signs in: the token and the catalog's public endpoints.
    async fn sign_in(&self) -> Result<(String, Vec<Endpoint>), String> {
        let base = self.spec.auth_url.trim_end_matches("/v3");
        let url = self.checked(&format!("{base}/v3/auth/tokens"))?;
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.spec.username,
                "domain": {"name": self.spec.user_domain},
                "password": self.spec.password.as_deref().unwrap_or_default()}}},
            "scope": {"project": {"name": self.spec.project, "domain": {"name": self.spec.project_domain}}}}});
        let resp = self
            .http
            .post(url)
            .timeout(REQUEST_TIMEOUT)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("identity service unreachable: {}", without_url(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!(
                "signing in as '{}' to project '{}' was refused ({status})",
                self.spec.username, self.spec.project
            ));
        }
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or("the identity service answered no X-Subject-Token")?;
        let v = read(resp).await?;
        let mut endpoints = Vec::new();
        for service in v["token"]["catalog"].as_array().into_iter().flatten() {
            let kind = service["type"].as_str().unwrap_or_default();
            for e in service["endpoints"].as_array().into_iter().flatten() {
                if e["interface"].as_str() != Some("public") {
                    continue;
                }
                let region = e["region_id"]
                    .as_str()
                    .or(e["region"].as_str())
                    .unwrap_or_default();
                if let Some(url) = e["url"].as_str() {
                    endpoints.push((
                        kind.to_string(),
                        region.to_string(),
                        url.trim_end_matches('/').to_string(),
                    ));
                }
            }
        }
        Ok((token, endpoints))
    }

    /// `GET url` with the token, as JSON.
    async fn get(&self, token: &str, url: &str, what: &str) -> Result<Value, String> {
        let u = self.checked(url)?;
        let resp = self
            .http
            .get(u)
            .timeout(REQUEST_TIMEOUT)
            .header("X-Auth-Token", token)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("{what}: {}", without_url(&e)))?;
        if !resp.status().is_success() {
            return Err(format!("{what} was refused ({})", resp.status()));
        }
        read(resp).await.map_err(|e| format!("{what}: {e}"))
    }

    /// Every item of a paged list: `first` then the `rel: next` link of
    /// `links_key` (compute) or the `next` path under `root` (image).
    async fn pages(
        &self,
        token: &str,
        first: String,
        items_key: &str,
        next: Next<'_>,
        what: &str,
    ) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        let mut url = Some(first);
        for _ in 0..MAX_PAGES {
            let Some(u) = url.take() else { break };
            let v = self.get(token, &u, what).await?;
            let items = v[items_key].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                break;
            }
            out.extend(items);
            url = match next {
                Next::Links(key) => v[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|l| l["rel"].as_str() == Some("next"))
                    .and_then(|l| l["href"].as_str())
                    .map(str::to_string),
                Next::Path(root) => v["next"].as_str().map(|p| join(root, p)),
            };
        }
        Ok(out)
    }

    /// The servers of one region, given its compute and image endpoints.
    async fn region(
        &self,
        token: &str,
        region: &str,
        compute: &str,
        image: Option<&str>,
    ) -> Result<Vec<CloudServer>, String> {
        let flavors = self
            .pages(
                token,
                format!("{compute}/flavors/detail"),
                "flavors",
                Next::Links("flavors_links"),
                &format!("listing flavors in {region}"),
            )
            .await?;
        let flavors: HashMap<String, &Value> = flavors
            .iter()
            .filter_map(|f| Some((id_of(&f["id"])?, f)))
            .collect();
        let mut images = HashMap::new();
        if let Some(root) = image {
            let root = root.trim_end_matches("/v2");
            for i in self
                .pages(
                    token,
                    format!("{root}/v2/images?limit={PAGE}"),
                    "images",
                    Next::Path(root),
                    &format!("listing images in {region}"),
                )
                .await?
            {
                if let (Some(id), Some(name)) = (id_of(&i["id"]), i["name"].as_str()) {
                    images.insert(id, name.to_string());
                }
            }
        }
        let servers = self
            .pages(
                token,
                format!("{compute}/servers/detail?limit={PAGE}"),
                "servers",
                Next::Links("servers_links"),
                &format!("listing servers in {region}"),
            )
            .await?;
        Ok(servers
            .iter()
            .map(|s| server(s, region, &flavors, &images))
            .collect())
    }
}

/// A signed-in session with the compute and image endpoints of one
/// region, for operating servers there (P4).
pub struct Session {
    token: String,
    compute: String,
    image: Option<String>,
}

impl OpenStack<'_> {
    /// Signs in and picks the endpoints of `region` (none: the only, or
    /// first, compute endpoint of the catalog).
    ///
    /// Errors: why signing in failed, or no compute endpoint in `region`.
    pub async fn session(&self, region: Option<&str>) -> Result<Session, String> {
        let (token, endpoints) = self.sign_in().await?;
        let compute = endpoints
            .iter()
            .find(|e| e.0 == "compute" && region.is_none_or(|r| e.1 == r))
            .ok_or_else(|| {
                format!(
                    "the catalog has no public compute endpoint{}",
                    region
                        .map(|r| format!(" in region '{r}'"))
                        .unwrap_or_default()
                )
            })?;
        let image = endpoints
            .iter()
            .find(|e| e.0 == "image" && e.1 == compute.1)
            .map(|e| e.2.trim_end_matches("/v2").to_string());
        Ok(Session {
            token,
            compute: compute.2.clone(),
            image,
        })
    }

    /// The state of server `instance` (`GET /servers/{id}`): its status
    /// and its task state (`OS-EXT-STS:task_state`).
    ///
    /// Errors: the server is unknown there, or the call failed.
    pub async fn server_state(&self, s: &Session, instance: &str) -> Result<ServerState, String> {
        let url = format!("{}/servers/{}", s.compute, path_part(instance)?);
        let v = self
            .get(&s.token, &url, &format!("reading server {instance}"))
            .await?;
        let server = &v["server"];
        Ok(ServerState {
            status: server["status"].as_str().unwrap_or_default().to_string(),
            task: server["OS-EXT-STS:task_state"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        })
    }

    /// Asks for `action` on server `instance` (`POST /servers/{id}/action`:
    /// `os-start`, `os-stop`, a soft `reboot`, or `rebuild` from the image
    /// of id `image`, with `key_name` when a key pair is chosen — which
    /// needs compute microversion 2.54, asked for then).
    ///
    /// Errors: the provider refused (its status and message), or the
    /// call failed.
    pub async fn act(
        &self,
        s: &Session,
        instance: &str,
        action: PowerAction,
        image: Option<&str>,
        key_pair: Option<&str>,
    ) -> Result<(), String> {
        let body = match action {
            PowerAction::Start => json!({"os-start": null}),
            PowerAction::Stop => json!({"os-stop": null}),
            PowerAction::Restart => json!({"reboot": {"type": "SOFT"}}),
            PowerAction::ReinstallOs | PowerAction::ChangeOs => {
                let mut r = json!({"imageRef": image.ok_or("no image to rebuild from")?});
                if let Some(k) = key_pair {
                    r["key_name"] = json!(k);
                }
                json!({ "rebuild": r })
            }
        };
        let url = self.checked(&format!(
            "{}/servers/{}/action",
            s.compute,
            path_part(instance)?
        ))?;
        let what = format!("{} of server {instance}", action.as_str().replace('_', " "));
        let mut req = self
            .http
            .post(url)
            .timeout(REQUEST_TIMEOUT)
            .header("X-Auth-Token", &s.token);
        if key_pair.is_some() {
            req = req.header("X-OpenStack-Nova-API-Version", KEY_NAME_MICROVERSION);
        }
        let resp = req
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("{what}: {}", without_url(&e)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        // The compute API says why in {"<fault>": {"message": …}}.
        let why = read(resp)
            .await
            .ok()
            .and_then(|v| {
                v.as_object()?
                    .values()
                    .find_map(|f| f["message"].as_str().map(str::to_string))
            })
            .map(|m| m.chars().take(300).collect::<String>())
            .unwrap_or_default();
        Err(format!("{what} was refused ({status}) {why}")
            .trim()
            .to_string())
    }

    /// The id of image `name_or_id` in the session's region: an image of
    /// that name (`GET /v2/images?name=`), else one of that id.
    ///
    /// Errors: no image service, no such image, or several of that name.
    pub async fn image_id(&self, s: &Session, name_or_id: &str) -> Result<String, String> {
        let root = s
            .image
            .as_deref()
            .ok_or("the catalog has no image service in the server's region")?;
        let mut u = self.checked(&format!("{root}/v2/images"))?;
        u.query_pairs_mut().append_pair("name", name_or_id);
        let v = self
            .get(
                &s.token,
                u.as_str(),
                &format!("looking up image '{name_or_id}'"),
            )
            .await?;
        let named: Vec<String> = v["images"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| id_of(&i["id"]))
            .collect();
        match named.as_slice() {
            [id] => return Ok(id.clone()),
            [] => {}
            _ => {
                return Err(format!(
                    "{} images are named '{name_or_id}': choose one by id",
                    named.len()
                ));
            }
        }
        let Ok(id) = path_part(name_or_id) else {
            return Err(format!("there is no image '{name_or_id}'"));
        };
        let url = format!("{root}/v2/images/{id}");
        match self.get(&s.token, &url, "").await {
            Ok(v) => id_of(&v["id"]).ok_or_else(|| format!("there is no image '{name_or_id}'")),
            Err(_) => Err(format!("there is no image '{name_or_id}'")),
        }
    }
}

/// `v` as one path segment: ids and names of letters, digits and `-._~`
/// (anything else is refused rather than escaped).
fn path_part(v: &str) -> Result<&str, String> {
    if !v.is_empty()
        && v.len() <= 255
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        && v != "."
        && v != ".."
    {
        Ok(v)
    } else {
        Err(format!(
            "'{}' cannot name a server or image in a URL",
            v.escape_debug()
        ))
    }
}

/// How a paged list says where its next page is.
#[derive(Clone, Copy)]
enum Next<'a> {
    /// A `[{rel: "next", href}]` array under this key (compute).
    Links(&'a str),
    /// A `next` path relative to this root (image).
    Path(&'a str),
}

impl Provider for OpenStack<'_> {
    async fn servers(&self) -> Result<Vec<CloudServer>, String> {
        let (token, endpoints) = self.sign_in().await?;
        let computes: Vec<&Endpoint> = endpoints.iter().filter(|e| e.0 == "compute").collect();
        if computes.is_empty() {
            return Err("the catalog has no public compute endpoint".into());
        }
        for r in &self.spec.regions {
            if !computes.iter().any(|e| &e.1 == r) {
                let known: Vec<&str> = computes.iter().map(|e| e.1.as_str()).collect();
                return Err(format!(
                    "region '{r}' has no compute endpoint; the catalog has {}",
                    known.join(", ")
                ));
            }
        }
        let mut out = Vec::new();
        for (_, region, url) in computes
            .into_iter()
            .filter(|e| self.spec.regions.is_empty() || self.spec.regions.contains(&e.1))
        {
            let image = endpoints
                .iter()
                .find(|e| e.0 == "image" && &e.1 == region)
                .map(|e| e.2.as_str());
            out.extend(self.region(&token, region, url, image).await?);
        }
        Ok(out)
    }
}

/// An id given as a string or a number.
fn id_of(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::to_string)
        .or_else(|| v.as_i64().map(|n| n.to_string()))
}

/// `path` (absolute `/v2/…` or a full URL) under `root`.
fn join(root: &str, path: &str) -> String {
    if path.starts_with("http://") || path.starts_with("https://") {
        path.to_string()
    } else {
        format!(
            "{}/{}",
            root.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }
}

fn count(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok())
}

/// One server of the compute API's `servers/detail`, provider-neutral.
fn server(
    s: &Value,
    region: &str,
    flavors: &HashMap<String, &Value>,
    images: &HashMap<String, String>,
) -> CloudServer {
    let f = &s["flavor"];
    let listed = id_of(&f["id"]).and_then(|id| flavors.get(&id).copied());
    let (flavor, vcpus, ram, disk) = match (f["original_name"].as_str(), listed) {
        (Some(name), _) => (
            Some(name.to_string()),
            count(&f["vcpus"]),
            count(&f["ram"]),
            count(&f["disk"]),
        ),
        (None, Some(l)) => (
            l["name"].as_str().map(str::to_string),
            count(&l["vcpus"]),
            count(&l["ram"]),
            count(&l["disk"]),
        ),
        (None, None) => (id_of(&f["id"]), None, None, None),
    };
    let image = id_of(&s["image"]["id"]).map(|id| images.get(&id).cloned().unwrap_or(id));
    let mut addresses = Vec::new();
    if let Some(nets) = s["addresses"].as_object() {
        for list in nets.values() {
            for a in list.as_array().into_iter().flatten() {
                if let Some(ip) = a["addr"].as_str()
                    && !addresses.iter().any(|x| x == ip)
                {
                    addresses.push(ip.to_string());
                }
            }
        }
    }
    CloudServer {
        id: id_of(&s["id"]).unwrap_or_default(),
        name: s["name"].as_str().unwrap_or_default().to_string(),
        state: s["status"].as_str().unwrap_or_default().to_string(),
        region: region.to_string(),
        zone: s["OS-EXT-AZ:availability_zone"]
            .as_str()
            .filter(|z| !z.is_empty())
            .map(str::to_string),
        flavor,
        vcpus,
        ram_mb: ram,
        disk_gb: disk,
        image,
        addresses,
    }
}

/// A transport error in a few words, without the URL (the caller's step
/// names what was called).
fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else if e.is_redirect() {
        "too many or refused redirects".into()
    } else if e.is_body() || e.is_decode() {
        "the answer broke off".into()
    } else {
        "the request failed".into()
    }
}

/// The answer's body as JSON, read up to [`MAX_BODY`] bytes.
async fn read(mut resp: reqwest::Response) -> Result<Value, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the answer: {}", without_url(&e)))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("the answer is larger than {} MiB", MAX_BODY >> 20));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| "the answer is not JSON".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_takes_its_flavor_embedded_or_listed_and_its_image_name() {
        let listed = json!({"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1});
        let flavors = HashMap::from([("1".to_string(), &listed)]);
        let images = HashMap::from([("img-1".to_string(), "cirros-0.6".to_string())]);
        let old = json!({"id": "s1", "name": "web", "status": "ACTIVE",
            "flavor": {"id": "1", "links": []}, "image": {"id": "img-1"},
            "addresses": {"private": [{"addr": "10.0.0.3", "version": 4}, {"addr": "10.0.0.3", "version": 4}],
                          "public": [{"addr": "172.24.4.9", "version": 4}]},
            "OS-EXT-AZ:availability_zone": "nova"});
        let s = server(&old, "RegionOne", &flavors, &images);
        assert_eq!(s.flavor.as_deref(), Some("m1.tiny"));
        assert_eq!(
            (s.vcpus, s.ram_mb, s.disk_gb),
            (Some(1), Some(512), Some(1))
        );
        assert_eq!(s.image.as_deref(), Some("cirros-0.6"));
        assert_eq!(s.addresses, ["10.0.0.3", "172.24.4.9"]);
        assert_eq!(s.zone.as_deref(), Some("nova"));
        let new = json!({"id": "s2", "name": "db", "status": "SHUTOFF", "image": "",
            "flavor": {"original_name": "m1.large", "vcpus": 4, "ram": 8192, "disk": 80}});
        let s = server(&new, "RegionOne", &flavors, &images);
        assert_eq!(s.flavor.as_deref(), Some("m1.large"));
        assert_eq!(s.ram_mb, Some(8192));
        assert_eq!(s.image, None, "boots from a volume");
        assert_eq!(
            join("http://g:9292", "/v2/images?marker=x"),
            "http://g:9292/v2/images?marker=x"
        );
    }
}
