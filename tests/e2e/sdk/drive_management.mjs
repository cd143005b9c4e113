// Drives the running server's Management API with the official Talon.One JavaScript SDK
// (npm `talon_one`, pinned in package.json), as a back-office script would: it logs in with
// `createSession`, then reads the applications and one application's campaigns with the
// bearer token it got, through the SDK's own models.
//
// Input: one JSON scenario on stdin: {"baseUrl", "email", "password", "applicationId"}.
// Output: ONE JSON document on stdout: {"sdk", "session": {"userId", "hasToken", "created"},
// "applications": {"model", "totalResultSize", "names"}, "campaigns": {"model", "names",
// "states"}}. Exit status 1 when a call fails (the error on stderr), 2 for a bad scenario.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import TalonOne from "talon_one";

const require = createRequire(import.meta.url);
const SDK_VERSION = require("talon_one/package.json").version;

async function main() {
  let scenario;
  try {
    scenario = JSON.parse(readFileSync(0, "utf8"));
  } catch (error) {
    console.error(`bad scenario: ${error}`);
    process.exit(2);
  }
  const client = TalonOne.ApiClient.instance;
  client.basePath = scenario.baseUrl.replace(/\/+$/, "");
  const api = new TalonOne.ManagementApi(client);

  const login = TalonOne.LoginParams.constructFromObject({
    email: scenario.email,
    password: scenario.password,
  });
  const session = await api.createSession(login);
  const auth = client.authentications["manager_auth"];
  auth.apiKey = session.token;
  auth.apiKeyPrefix = "Bearer";

  const applications = await api.getApplications({ pageSize: 50 });
  const campaigns = await api.getCampaigns(scenario.applicationId, { pageSize: 50 });
  const report = {
    sdk: SDK_VERSION,
    session: {
      model: session.constructor.name,
      userId: session.userId,
      hasToken: typeof session.token === "string" && session.token.length > 0,
      created: session.created instanceof Date ? session.created.toISOString() : null,
    },
    applications: {
      model: applications.constructor.name,
      totalResultSize: applications.totalResultSize,
      names: applications.data.map((application) => application.name),
      models: applications.data.map((application) => application.constructor.name),
    },
    campaigns: {
      model: campaigns.constructor.name,
      names: campaigns.data.map((campaign) => campaign.name),
      states: campaigns.data.map((campaign) => campaign.state),
      models: campaigns.data.map((campaign) => campaign.constructor.name),
    },
  };
  process.stdout.write(JSON.stringify(report));
}

main().catch((error) => {
  const body = error?.response?.text ?? "";
  console.error(`${error?.status ?? ""} ${error?.message ?? error} ${body}`);
  process.exit(1);
});
