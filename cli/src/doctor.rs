//! `mailoauth doctor`: what the app registration (and Exchange) need for the chosen flow.

use mailoauth::identity::scopes::{app_only_scope, app_permission, delegated_permission, mail_scopes};
use mailoauth::{Protocol, Provider};

use crate::account;
use crate::config::{AccountConfig, Config, Flow};
use crate::exit::CliResult;
use crate::{out_line, Cli, DoctorArgs, DoctorFlow};

const PROTOCOLS: [Protocol; 3] = [Protocol::Imap, Protocol::Pop3, Protocol::Smtp];

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(crate) fn run(cli: &Cli, a: &DoctorArgs) -> CliResult {
    let config = Config::load(cli.config_path()?)?;
    let mut cfg = match &a.account {
        Some(name) => config.account(name)?.clone(),
        None => AccountConfig::default(),
    };
    let au = &a.authority;
    if let Some(p) = au.provider {
        cfg.provider = Some(p.name().to_owned());
    }
    if let Some(id) = &au.client_id {
        cfg.client_id = id.clone();
    }
    if au.tenant.is_some() || au.cloud.is_some() || au.authority.is_some() {
        cfg.tenant = au.tenant.clone();
        cfg.cloud = au.cloud.map(|c| c.name().to_owned());
        cfg.authority = au.authority.clone();
    }
    let authority = account::authority(&cfg)?;
    let flow = a.flow.unwrap_or(match cfg.flow {
        Flow::DeviceCode => DoctorFlow::DeviceCode,
        Flow::Browser => DoctorFlow::Browser,
    });
    let name = a.account.as_deref().unwrap_or("<account>");
    let client_id = if cfg.client_id.is_empty() { "<application id>" } else { cfg.client_id.as_str() };
    if authority.provider() == Provider::Google {
        google(name);
        return Ok(());
    }
    let tenant = authority.tenant().to_owned();
    let base = authority.base_url().to_owned();
    let w = |s: &str| out_line(s);
    let flow_name = match flow {
        DoctorFlow::DeviceCode => "device code",
        DoctorFlow::Browser => "browser (authorization code + PKCE, loopback redirect)",
        DoctorFlow::AppOnly => "app-only (client credentials)",
    };
    w(&format!("App registration for {name}: {flow_name} at {}", authority.url()));
    w("");
    w("In the Microsoft Entra admin center (https://entra.microsoft.com), Identity > Applications > App registrations:");
    let audience = match tenant.as_str() {
        "common" => "Accounts in any organizational directory and personal Microsoft accounts",
        "consumers" => "Personal Microsoft accounts only (or any directory + personal accounts)",
        "organizations" => "Accounts in any organizational directory (multitenant), or single tenant for your own",
        _ => "Accounts in this organizational directory only (single tenant)",
    };
    w(&format!("1. New registration. Supported account types: {audience}."));
    match flow {
        DoctorFlow::DeviceCode | DoctorFlow::Browser => {
            w("2. Authentication > Add a platform > Mobile and desktop applications, redirect URI:");
            w("     http://localhost");
            w("   (any port matches it; the browser flow listens on http://localhost:<free port>)");
            w("3. Authentication > Advanced settings > Allow public client flows: Yes");
            w(match flow {
                DoctorFlow::DeviceCode => "   (required for the device code flow; without it: AADSTS7000218)",
                _ => "   (the app is a public client: it has no secret; sending one gives AADSTS700025)",
            });
            let perms: Vec<&str> = PROTOCOLS.iter().map(|p| delegated_permission(*p)).collect();
            w(&format!(
                "4. API permissions > Add a permission > Microsoft Graph > Delegated permissions: {}, offline_access",
                perms.join(", ")
            ));
            w("   (the portal lists them under Graph; mailoauth requests them for Outlook, which the mail servers need:");
            let scopes = mail_scopes(authority.provider(), authority.cloud(), &PROTOCOLS, true);
            w(&format!("    {})", scopes.join(" ")));
            let consent = format!(
                "{base}/{tenant}/v2.0/adminconsent?client_id={}&scope={}&redirect_uri={}",
                enc(client_id),
                enc(&scopes.iter().filter(|s| s.contains('/')).cloned().collect::<Vec<_>>().join(" ")),
                enc("http://localhost")
            );
            w("5. If users may not consent themselves, a tenant admin grants consent (API permissions > Grant admin");
            w("   consent), or opens:");
            w(&format!("     {consent}"));
            w("6. Copy the Application (client) ID from Overview, then:");
            let flag = if flow == DoctorFlow::Browser { " --browser" } else { "" };
            let tenant_flag = if tenant == "organizations" { String::new() } else { format!(" --tenant {tenant}") };
            w(&format!("     mailoauth login {name} --client-id {client_id}{tenant_flag}{flag}"));
            w("");
            w("If the mail server still refuses (an Exchange admin, in Exchange Online PowerShell):");
            w("  Set-CASMailbox -Identity <user> -ImapEnabled $true -PopEnabled $true");
            w("  Set-CASMailbox -Identity <user> -SmtpClientAuthenticationDisabled $false   # SMTP AUTH (5.7.139)");
            w("  Add-MailboxPermission -Identity <shared mailbox> -User <user> -AccessRights FullAccess  # shared mailbox");
        }
        DoctorFlow::AppOnly => {
            let mailbox = a.mailbox.as_deref().unwrap_or("<mailbox>");
            w("2. Certificates & secrets: upload a certificate (preferred) or create a client secret (copy its Value).");
            let perms: Vec<&str> = PROTOCOLS.iter().map(|p| app_permission(*p)).collect();
            w(&format!(
                "3. API permissions > Add a permission > APIs my organization uses > Office 365 Exchange Online >\n   Application permissions: {}",
                perms.join(", ")
            ));
            w("4. Grant admin consent for the tenant (API permissions > Grant admin consent), or a tenant admin opens:");
            w(&format!("     {base}/{tenant}/adminconsent?client_id={}", enc(client_id)));
            w("5. Register the app's service principal in Exchange Online and give it the mailbox (PowerShell):");
            w("     Install-Module -Name ExchangeOnlineManagement");
            w(&format!("     Connect-ExchangeOnline -Organization {tenant}"));
            w(&format!(
                "     New-ServicePrincipal -AppId {client_id} -ObjectId <Object ID from Enterprise applications>"
            ));
            w("     Get-ServicePrincipal | Format-List DisplayName,AppId,ObjectId,Identity");
            w(&format!("     Add-MailboxPermission -Identity {mailbox} -User <ServicePrincipal Identity> -AccessRights FullAccess"));
            w(&format!("     Add-RecipientPermission -Identity {mailbox} -Trustee <ServicePrincipal Identity> -AccessRights SendAs  # SMTP as another address"));
            w("   The ObjectId is the Enterprise application's (service principal) object id, NOT the App registration's.");
            w(&format!(
                "6. Tokens use the scope {} and the XOAUTH2 user {mailbox}.",
                app_only_scope(authority.provider(), authority.cloud())
            ));
            w("   (`mailoauth login` signs in users; for app-only use the library's ConfidentialClient, then");
            w("    `mailoauth check imap --token-stdin --user <mailbox>` to test the token.)");
        }
    }
    if !authority.mail_hosts().verified {
        w("");
        w("Note: this cloud's mail hosts and scope resource are not confirmed by Microsoft's documentation.");
    }
    Ok(())
}

fn google(name: &str) {
    let w = |s: &str| out_line(s);
    w(&format!("Google Cloud project for {name} (https://console.cloud.google.com):"));
    w("1. APIs & Services > Enabled APIs: enable the Gmail API.");
    w("2. OAuth consent screen: add the scope https://mail.google.com/ and, while in testing, your address as a test user.");
    w("3. Credentials > Create credentials > OAuth client ID > Desktop app.");
    w("4. Sign in with the client id AND the desktop client's client secret (Google requires it; for");
    w(&format!("   installed apps it is not confidential): mailoauth login {name} --provider google --browser \\"));
    w("   --client-id <id>.apps.googleusercontent.com --client-secret <secret> --user you@gmail.com");
    w("Google refuses mail scopes in the device flow: use --browser (over SSH, open the printed URL");
    w("on your desktop and forward the loopback port with ssh -L).");
}
