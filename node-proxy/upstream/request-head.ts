/** The request line and headers for the upstream, in the one string the connection writes. */
export function requestHead(method: string, url: string, headers: Record<string, string>): string {
  let head = `${method} ${url} HTTP/1.1\r\n`;
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  return `${head}\r\n`;
}
