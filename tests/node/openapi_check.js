#!/usr/bin/env node
// Checks pfgate's OpenAPI description, and real responses against it
// (tests/integration/test_openapi.py runs it).
//
//   node openapi_check.js DOC.json [CASES.json]
//
// DOC is validated by @apidevtools/swagger-parser (the OpenAPI 3.1 JSON
// Schema, every $ref resolved), then every Schema Object is compiled by Ajv
// (JSON Schema 2020-12, strict) and each path template is matched with its
// path parameters. CASES is a JSON array of real responses:
//   {"method": "get", "path": "/v1/factors/{num}", "status": 200,
//    "headers": {"content-type": "..."}, "body": "..."}
// each checked against its operation's response: the status is described,
// the Content-Type is one of its media types, required headers are there and
// match, and the body matches the schema (application/x-ndjson: each line).
// Prints one line per problem or case; exits 1 if anything is wrong.
"use strict";

const fs = require("fs");
const SwaggerParser = require("@apidevtools/swagger-parser");
const Ajv2020 = require("ajv/dist/2020");

function newAjv() {
  const ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true });
  // OpenAPI's formats for integers (JSON numbers cannot hold every int64, so
  // the range is the schema's minimum and maximum).
  ajv.addFormat("int64", { type: "number", validate: Number.isInteger });
  ajv.addFormat("int32", { type: "number", validate: Number.isInteger });
  return ajv;
}

// Every Schema Object of the dereferenced document, with where it is.
function* schemasOf(api) {
  for (const [name, s] of Object.entries(api.components?.schemas || {}))
    yield [`components/schemas/${name}`, s];
  for (const [path, item] of Object.entries(api.paths || {}))
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      for (const p of op.parameters || []) yield [`${where} parameter ${p.name}`, p.schema];
      for (const [type, m] of Object.entries(op.requestBody?.content || {}))
        yield [`${where} request ${type}`, m.schema];
      for (const [status, r] of Object.entries(op.responses || {})) {
        for (const [type, m] of Object.entries(r.content || {}))
          yield [`${where} ${status} ${type}`, m.schema];
        for (const [name, h] of Object.entries(r.headers || {}))
          yield [`${where} ${status} header ${name}`, h.schema];
      }
    }
}

function checkDocument(api) {
  const problems = [];
  const ajv = newAjv();
  for (const [where, schema] of schemasOf(api)) {
    if (schema === undefined) continue;
    try {
      ajv.compile(schema);
    } catch (e) {
      problems.push(`${where}: not a valid JSON Schema: ${e.message}`);
    }
  }
  for (const [path, item] of Object.entries(api.paths || {})) {
    const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    for (const [method, op] of Object.entries(item)) {
      const declared = [...(item.parameters || []), ...(op.parameters || [])]
        .filter((p) => p.in === "path").map((p) => p.name).sort();
      if (JSON.stringify(names) !== JSON.stringify(declared))
        problems.push(`${method.toUpperCase()} ${path}: path parameters ${declared} ` +
                      `do not match the template's ${names}`);
    }
  }
  return problems;
}

const normal = (t) => t.toLowerCase().replace(/\s*;\s*/g, "; ").trim();

function mediaFor(content, contentType) {
  const want = normal(contentType || "");
  const bare = want.split(";")[0];
  for (const [key, media] of Object.entries(content))
    if (normal(key) === want) return media;
  for (const [key, media] of Object.entries(content)) {
    const k = normal(key);
    if (k === "*/*" || (k.endsWith("/*") && bare.startsWith(k.slice(0, -1)))) return media;
  }
  return null;
}

function errorsOf(ajv, schema, value) {
  const validate = ajv.compile(schema);
  if (validate(value)) return [];
  return validate.errors.map((e) => `${e.instancePath || "(root)"} ${e.message}`);
}

function checkCase(api, ajv, c) {
  // HEAD is served wherever GET is (the description says so once); a 405 to
  // a method the path does not take is described with the operations it does.
  const item = api.paths?.[c.path] || {};
  let op = item[c.method] || (c.method === "head" ? item.get : undefined);
  if (!op && c.status === 405) op = Object.values(item).find((o) => o.responses?.["405"]);
  if (!op) return [`${c.method.toUpperCase()} ${c.path} is not described`];
  const status = String(c.status);
  const resp = op.responses[status] || op.responses[`${status[0]}XX`] || op.responses.default;
  if (!resp) return [`status ${status} is not described`];
  const problems = [];
  const headers = c.headers || {};
  for (const [name, h] of Object.entries(resp.headers || {})) {
    const value = headers[name.toLowerCase()];
    if (value === undefined) {
      if (h.required) problems.push(`header ${name} is missing`);
    } else if (h.schema) {
      for (const e of errorsOf(ajv, h.schema, value)) problems.push(`header ${name}: ${e}`);
    }
  }
  const body = c.body || "";
  if (!resp.content) {
    if (body.length) problems.push(`a body (${body.length} bytes) where none is described`);
    return problems;
  }
  const media = mediaFor(resp.content, headers["content-type"]);
  if (!media) {
    problems.push(`Content-Type ${JSON.stringify(headers["content-type"])} is not one of ` +
                  Object.keys(resp.content).join(", "));
    return problems;
  }
  if (!media.schema || c.method === "head") return problems;
  const type = normal(headers["content-type"]).split(";")[0];
  let values;
  try {
    if (type === "application/x-ndjson")
      values = body.split("\n").filter((l, i, all) => l.length || i < all.length - 1)
        .map((l) => JSON.parse(l));
    else if (type === "application/json" || type.endsWith("+json")) values = [JSON.parse(body)];
    else values = [body];
  } catch (e) {
    return [...problems, `body is not ${type}: ${e.message}`];
  }
  values.forEach((v, i) => {
    for (const e of errorsOf(ajv, media.schema, v))
      problems.push(`${values.length > 1 ? `line ${i + 1}: ` : ""}${e} ` +
                    `(in ${JSON.stringify(v).slice(0, 120)})`);
  });
  return problems;
}

async function main() {
  const [docFile, casesFile] = process.argv.slice(2);
  if (!docFile) {
    console.error("usage: openapi_check.js DOC.json [CASES.json]");
    process.exit(2);
  }
  const doc = JSON.parse(fs.readFileSync(docFile, "utf8"));
  try {
    await SwaggerParser.validate(structuredClone(doc));
  } catch (e) {
    console.log(`invalid: ${e.message}`);
    process.exit(1);
  }
  const api = await SwaggerParser.dereference(structuredClone(doc));
  let bad = checkDocument(api);
  for (const p of bad) console.log(`invalid: ${p}`);
  if (!bad.length) console.log(`valid: OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths`);
  if (casesFile && !bad.length) {
    const ajv = newAjv();
    for (const c of JSON.parse(fs.readFileSync(casesFile, "utf8"))) {
      const what = `${c.method.toUpperCase()} ${c.path} ${c.status} (${c.what || c.path})`;
      const problems = checkCase(api, ajv, c);
      for (const p of problems) console.log(`FAIL ${what}: ${p}`);
      if (!problems.length) console.log(`ok ${what}`);
      bad = bad.concat(problems);
    }
  }
  process.exit(bad.length ? 1 : 0);
}

main().catch((e) => {
  console.log(`error: ${e.stack || e}`);
  process.exit(1);
});
