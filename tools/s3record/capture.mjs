// A capture server: records every request (method, request target, raw
// headers, body) and answers with a minimal S3-shaped 200 so that clients
// carry on.
import http from "node:http";

export async function startCapture() {
  const recorded = [];
  const cap = { recorded, label: "" };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const headers = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      recorded.push({ name: cap.label, method: req.method, uri: req.url, headers, body_base64: Buffer.concat(chunks).toString("base64") });
      res.setHeader("Content-Type", "application/xml");
      res.setHeader("ETag", '"0123456789abcdef0123456789abcdef"');
      if (req.method === "GET" && req.url.includes("list-type=2")) return res.end("<ListBucketResult></ListBucketResult>");
      if (req.method === "POST") return res.end("<DeleteResult></DeleteResult>");
      if (req.headers["x-amz-copy-source"]) return res.end("<CopyObjectResult><ETag>\"x\"</ETag></CopyObjectResult>");
      if (req.method === "HEAD") { res.setHeader("Content-Length", "5"); return res.end(); }
      res.end(req.method === "GET" ? "hello" : "");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  cap.endpoint = `http://127.0.0.1:${server.address().port}`;
  cap.close = () => server.close();
  return cap;
}
