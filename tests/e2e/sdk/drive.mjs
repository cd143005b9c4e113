// Drives a running server with the official Talon.One JavaScript SDK (npm `talon_one`, pinned
// in package.json), as a shop's backend would, and reports what the SDK made of each answer.
//
// Input: one JSON scenario, as the first argument or on stdin (the test uses stdin, so that the
// API key does not show in the process list):
//
//   {"baseUrl": "http://localhost:8081", "apiKey": "…", "sessionId": "s-1", "profileId": "p-1",
//    "cart": [{"name": "…", "sku": "…", "quantity": 1, "price": 59.9}, …],
//    "profileAttributes": {"Tier": "gold"}, "eventType": "viewed_cart"}
//
// Calls, in this order, each through the SDK's own models and API client:
//
//   sessionOpen    updateCustomerSessionV2  PUT  /v2/customer_sessions/{id}  (state open, cart)
//   sessionClosed  updateCustomerSessionV2  PUT  /v2/customer_sessions/{id}  (state closed)
//   profileV2      updateCustomerProfileV2  PUT  /v2/customer_profiles/{id}?runRuleEngine=true
//   event          trackEvent               POST /v1/events
//   profileV1      updateCustomerProfile    PUT  /v1/customer_profiles/{id}
//
// Output: ONE JSON document on stdout, {"sdk", "node", "steps": {name: step}}, where a step is
//
//   {"call", "request": {"method", "path", "query", "headers", "body"} (as sent on the wire;
//    the API key is replaced by "<apiKey>"), "status", "model" (the SDK's class of the answer),
//    "types" (the SDK's class of each field of the answer), "data" (the answer as the SDK
//    deserialised it), "effects" (each effect of the answer, or of its event for a v1 answer,
//    with its props read through the SDK's typed …EffectProps class, as its README does),
//    "error" (null, or {status, body, message})}.
//
// Exit status: 0 when every call answered 2xx or 404 (an endpoint not served yet: the test
// decides what that means); 1 when a call failed otherwise (another HTTP error, no answer, or
// an exception in the SDK), after printing each such error to stderr; 2 for a bad scenario.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import TalonOne from "talon_one";

const require = createRequire(import.meta.url);
const SDK_VERSION = require("talon_one/package.json").version;

function readScenario() {
  const text = process.argv[2] ?? readFileSync(0, "utf8");
  const scenario = JSON.parse(text);
  for (const key of ["baseUrl", "apiKey", "sessionId", "profileId", "cart"]) {
    if (scenario[key] === undefined) {
      throw new Error(`the scenario has no ${key}`);
    }
  }
  return scenario;
}

// The SDK's class name of a deserialised value, field by field one level down.
function className(value) {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map(className);
  return typeof value === "object" ? value.constructor.name : typeof value;
}

function fieldTypes(model) {
  if (model === null || typeof model !== "object") return className(model);
  const types = { "": className(model) };
  for (const [key, value] of Object.entries(model)) {
    types[key] = className(value);
  }
  return types;
}

// Each effect's props through the typed class the SDK offers for its type, if any
// (setDiscount → SetDiscountEffectProps), as the SDK's README handles effects.
function typedEffects(effects) {
  if (!Array.isArray(effects)) return null;
  return effects.map((effect) => {
    const type = effect.effectType ?? "";
    const propsClass = TalonOne[`${type.charAt(0).toUpperCase()}${type.slice(1)}EffectProps`];
    return {
      sdkClass: className(effect),
      campaignId: effect.campaignId,
      rulesetId: effect.rulesetId,
      ruleIndex: effect.ruleIndex,
      ruleName: effect.ruleName,
      effectType: effect.effectType,
      props: effect.props,
      propsClass: propsClass ? propsClass.name : null,
      typedProps: propsClass ? propsClass.constructFromObject(effect.props) : null,
    };
  });
}

// The body of an HTTP error as superagent read it: parsed JSON, else the text (an HTML 404 page
// parses to {}).
function answerBody(error) {
  const body = error?.body;
  const empty = body && typeof body === "object" && Object.keys(body).length === 0;
  if (body !== undefined && body !== null && !empty) return body;
  return error?.response?.text || null;
}

// Records what superagent (the SDK's HTTP client) puts on the wire, through the SDK's plugin
// hook: every request made through `client` lands in `sent` once answered.
function recordRequests(client, apiKey) {
  const sent = [];
  client.plugins = [
    (request) => {
      request.on("response", (response) => {
        const url = new URL(request.url);
        const headers = { ...request.req.getHeaders() };
        if (typeof headers.authorization === "string") {
          headers.authorization = headers.authorization.split(apiKey).join("<apiKey>");
        }
        sent.push({
          method: request.method,
          path: url.pathname,
          query: url.search,
          headers,
          // What superagent serialises (JSON.stringify of the body it was given).
          body: request._data === undefined ? null : JSON.parse(JSON.stringify(request._data)),
          status: response.status,
        });
      });
    },
  ];
  return sent;
}

function main() {
  let scenario;
  try {
    scenario = readScenario();
  } catch (error) {
    process.stderr.write(`drive.mjs: bad scenario: ${error.message}\n`);
    process.exit(2);
  }

  // Configured exactly as the SDK's README does it.
  const client = TalonOne.ApiClient.instance;
  client.basePath = scenario.baseUrl.replace(/\/+$/, "");
  client.timeout = 20000;
  const apiKeyV1 = client.authentications["api_key_v1"];
  apiKeyV1.apiKey = scenario.apiKey;
  apiKeyV1.apiKeyPrefix = "ApiKey-v1";
  const sent = recordRequests(client, scenario.apiKey);
  const integrationApi = new TalonOne.IntegrationApi();

  const cart = () =>
    scenario.cart.map((item) => {
      const cartItem = new TalonOne.CartItem(item.name, item.sku, item.quantity, item.price);
      if (item.category !== undefined) cartItem.category = item.category;
      return cartItem;
    });
  const sessionRequest = (state) => {
    const session = new TalonOne.NewCustomerSessionV2();
    session.profileId = scenario.profileId;
    session.state = state;
    session.cartItems = cart();
    const request = new TalonOne.IntegrationRequest(session);
    request.responseContent = [
      TalonOne.IntegrationRequest.ResponseContentEnum.customerSession,
      TalonOne.IntegrationRequest.ResponseContentEnum.customerProfile,
    ];
    return request;
  };
  const profileAttributes = scenario.profileAttributes ?? {};

  const steps = [
    [
      "sessionOpen",
      "updateCustomerSessionV2",
      () => integrationApi.updateCustomerSessionV2(scenario.sessionId, sessionRequest("open")),
    ],
    [
      "sessionClosed",
      "updateCustomerSessionV2",
      () => integrationApi.updateCustomerSessionV2(scenario.sessionId, sessionRequest("closed")),
    ],
    [
      "profileV2",
      "updateCustomerProfileV2",
      () => {
        const body = new TalonOne.CustomerProfileIntegrationRequestV2();
        body.attributes = profileAttributes;
        body.responseContent = [
          TalonOne.CustomerProfileIntegrationRequestV2.ResponseContentEnum.customerProfile,
        ];
        return integrationApi.updateCustomerProfileV2(scenario.profileId, body, {
          runRuleEngine: true,
        });
      },
    ],
    [
      "event",
      "trackEvent",
      () => {
        const event = new TalonOne.NewEvent(
          scenario.eventType ?? "viewed_cart",
          {},
          scenario.sessionId,
        );
        event.profileId = scenario.profileId;
        return integrationApi.trackEvent(event);
      },
    ],
    [
      "profileV1",
      "updateCustomerProfile",
      () => {
        const body = new TalonOne.NewCustomerProfile();
        body.attributes = profileAttributes;
        return integrationApi.updateCustomerProfile(scenario.profileId, body);
      },
    ],
  ];

  return (async () => {
    const report = { sdk: { package: "talon_one", version: SDK_VERSION }, node: process.version };
    report.steps = {};
    let unexpected = 0;
    for (const [name, call, run] of steps) {
      const before = sent.length;
      const step = { call, request: null, status: null, model: null, types: null, data: null };
      step.effects = null;
      step.error = null;
      try {
        const data = await run();
        step.model = className(data);
        step.types = fieldTypes(data);
        step.data = JSON.parse(JSON.stringify(data ?? null));
        // v2 answers carry effects at the top; a v1 IntegrationState only in its event.
        step.effects = typedEffects(data?.effects ?? data?.event?.effects);
      } catch (error) {
        // The SDK rejects an HTTP error with {status, statusText, body, response, error}, and
        // anything else (no answer, a bug) with an Error.
        const status = typeof error?.status === "number" ? error.status : null;
        step.error = {
          status,
          body: answerBody(error),
          message: String(error?.error?.message ?? error?.message ?? error),
        };
        if (status !== 404) {
          unexpected += 1;
          const detail = status === null ? (error?.error ?? error)?.stack ?? "" : "";
          process.stderr.write(
            `drive.mjs: ${name} (${call}) failed: status ${status}, ` +
              `body ${JSON.stringify(step.error.body)}, ${step.error.message}\n${detail}\n`,
          );
        }
      }
      const wire = sent.slice(before);
      if (wire.length > 0) {
        const { status, ...request } = wire[wire.length - 1];
        step.request = request;
        step.status = status;
      }
      report.steps[name] = step;
    }
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return unexpected === 0 ? 0 : 1;
  })();
}

main().then(
  (status) => process.exit(status),
  (error) => {
    process.stderr.write(`drive.mjs: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
