// A real OpenID Connect provider on loopback for the sign-in tests: panva's certified
// oidc-provider, configured like an organisation's identity provider that puts group and
// role claims in the ID token (Entra ID's `roles`, Keycloak's `realm_access.roles`, `groups`).
//
//   node provider.mjs <port> <accounts.json> <clients.json>
//
// accounts.json maps a login name to its claims and is read again at every sign-in, so a test
// changes someone's groups by rewriting the file (the "role change" of the real world).
// Any password is accepted on the development login form (devInteractions); consent is given
// automatically, as for a first-party application. Prints "listening <issuer>" when ready.
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const [port, accountsFile, clientsFile] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const SCOPE = "openid email profile groups roles";

function accounts() {
  return JSON.parse(readFileSync(accountsFile, "utf8"));
}

const provider = new Provider(issuer, {
  clients: JSON.parse(readFileSync(clientsFile, "utf8")),
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...accounts()[id] }; } };
  },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name"],
    groups: ["groups"],
    roles: ["roles", "realm_access", "hd"],
  },
  scopes: ["openid", "email", "profile", "groups", "roles"],
  // Every scope's claims in the ID token: Streamlit (Authlib) reads the ID token only.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  pkce: { required: () => false },
  cookies: { keys: ["groundswell-test-only-cookie-key"] },
  async loadExistingGrant(ctx) {
    const grantId =
      ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const grant = await ctx.oidc.provider.Grant.find(grantId);
      if (grant) return grant;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(SCOPE);
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

// The dashboard under test listens on a free port chosen per run: its callback is allowed on
// any loopback port (an organisation's provider lists the one exact redirect URI instead).
const LOOPBACK_CALLBACK = /^http:\/\/127\.0\.0\.1:\d+\/oauth2callback$/;
provider.Client.prototype.redirectUriAllowed = (uri) => LOOPBACK_CALLBACK.test(uri);
provider.Client.prototype.postLogoutRedirectUriAllowed = (uri) => LOOPBACK_CALLBACK.test(uri);

const server = provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`listening ${issuer}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
