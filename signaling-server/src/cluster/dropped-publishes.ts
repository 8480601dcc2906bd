/**
 * socket.io's Redis streams adapter (0.3) sends server-side emits, the messages between processes
 * (messages.ts), with a PUBLISH whose promise it drops. One in flight when Redis goes away then
 * rejects unhandled, and Node ends the process: a Redis restart could take a server process down
 * with it (seen in the cluster tests' "Redis away" run). Such a rejection is only the loss of that
 * one message, which the router's answer deadline already covers, so it is handed to `onError`;
 * the promise itself goes on to its caller unchanged.
 */
type Publish = (...args: never[]) => Promise<unknown>;

export function handleDroppedPublishes<T extends { publish: Publish }>(client: T, onError: (err: unknown) => void): T {
  const publish = client.publish.bind(client);
  client.publish = ((...args: Parameters<T['publish']>) => {
    const sent = publish(...args);
    sent.catch(onError);
    return sent;
  }) as T['publish'];
  return client;
}
