// Records the S3 requests the AWS CLI (botocore) sends, for the Go replay
// tests of localaws/s3:
//
//   node record-cli.mjs ../../localaws/s3/testdata/aws-cli.json
//
// It runs the `aws` found on PATH against a capture server with fixed test
// credentials (not secrets) and path-style addressing (the CLI's default
// with --endpoint-url).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startCapture } from "./capture.mjs";

const out = process.argv[2];
if (!out) throw new Error("usage: node record-cli.mjs OUTPUT.json");
const key = "AKIATVMRECORD0000001", secret = "tvmRecordSecretKey00000000000000000000001";
const cap = await startCapture();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "s3record-cli-"));
const env = { ...process.env, AWS_ACCESS_KEY_ID: key, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: "",
  AWS_DEFAULT_REGION: "us-east-1", AWS_CONFIG_FILE: path.join(dir, "config"), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, "creds"),
  AWS_MAX_ATTEMPTS: "1", AWS_PAGER: "" };
const small = path.join(dir, "small.txt");
fs.writeFileSync(small, "hello from the cli");
const version = execFileSync("aws", ["--version"], { env, encoding: "utf8" }).trim();

function aws(name, expect, ...args) {
  cap.label = name;
  const before = cap.recorded.length;
  // execFileSync blocks the event loop, so run the CLI asynchronously.
  return new Promise((resolve, reject) => {
    import("node:child_process").then(({ execFile }) => {
      execFile("aws", ["--endpoint-url", cap.endpoint, ...args], { env }, (err, stdout, stderr) => {
        if (cap.recorded.length === before) return reject(new Error(`${name}: no request (${err} ${stderr})`));
        const r = cap.recorded[cap.recorded.length - 1];
        if (expect !== null) r.expect_body_base64 = Buffer.from(expect).toString("base64");
        else r.expect_body_base64 = r.body_base64;
        resolve();
      });
    });
  });
}

await aws("s3api put-object (checksum header, hex payload)", "hello from the cli", "s3api", "put-object", "--bucket", "tvm-s3-demo", "--key", "tenants/1/cli.txt", "--body", small);
await aws("s3 cp upload", "hello from the cli", "s3", "cp", small, "s3://tvm-s3-demo/tenants/1/cp.txt");
await aws("s3api list-objects-v2 --prefix", "", "s3api", "list-objects-v2", "--bucket", "tvm-s3-demo", "--prefix", "tenants/1/");
await aws("s3api get-object", "", "s3api", "get-object", "--bucket", "tvm-s3-demo", "--key", "tenants/1/cli.txt", path.join(dir, "got.txt"));
await aws("s3api delete-objects", null, "s3api", "delete-objects", "--bucket", "tvm-s3-demo", "--delete", '{"Objects":[{"Key":"tenants/1/cli.txt"}]}');
// The CLI v1 presigns S3 URLs with Signature Version 2 unless told s3v4:
// record both (the gateway refuses SigV2 with NotImplemented).
function presign(name, extraEnv, expectError) {
  cap.label = name;
  const url = new URL(execFileSync("aws", ["--endpoint-url", cap.endpoint, "s3", "presign", "s3://tvm-s3-demo/tenants/1/cp.txt",
    "--expires-in", "600"], { env: { ...env, ...extraEnv }, encoding: "utf8" }).trim());
  const r = { name, method: "GET", uri: url.pathname + url.search, headers: [["Host", url.host]], body_base64: "", expect_body_base64: "" };
  if (expectError) r.expect_error = expectError;
  cap.recorded.push(r);
}
presign("s3 presign (CLI v1 default: SigV2)", {}, "NotImplemented");
const v4config = path.join(dir, "config-s3v4");
fs.writeFileSync(v4config, "[default]\ns3 =\n    signature_version = s3v4\n");
presign("s3 presign (s3.signature_version = s3v4)", { AWS_CONFIG_FILE: v4config });
cap.close();
fs.rmSync(dir, { recursive: true });
fs.writeFileSync(out, JSON.stringify({ sdk: version, access_key_id: key, secret_access_key: secret, requests: cap.recorded }, null, 1) + "\n");
console.log(`recorded ${cap.recorded.length} requests from ${version} to ${out}`);
