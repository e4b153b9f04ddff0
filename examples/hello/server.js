// The smallest app Zectre can run: no dependencies, listens on $PORT, logs one line per request.
import { createServer } from 'node:http';

const port = Number(process.env.PORT) || 3000;
const version = process.env.HELLO_VERSION || '1';

const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`hello from zectre (version ${version})\n`);
  console.log(`${req.method} ${req.url} ${res.statusCode}`);
});

server.listen(port, () => console.log(`listening on ${port}`));

// The agent stops tasks with SIGTERM: finish in-flight requests, drop idle keep-alives, exit 0.
process.on('SIGTERM', () => {
  console.log('SIGTERM: shutting down');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
