/**
 * The last step of every Node transport's handshake, once the answer (a 101, or `:status 200`
 * over HTTP/2) is written: a byte link over the transport's stream, with the agreed compression,
 * and a session over the link, holding what `onUpgrade` gave as `data`.
 * @module
 */

import type { Admission } from "../../core/admission.js";
import type { ByteStream } from "../../core/ports.js";
import { Session } from "../../core/session.js";
import { ByteLink } from "../../wire/link.js";
import type { NodeContext, NodeRuntime } from "./context.js";
import { connectionZlib } from "./zlib.js";

/** An admission that let the connection in. */
type Accepted<T> = Extract<Admission<T>, { kind: "accept" }>;

/** Makes the session of an accepted connection over `stream`; the caller starts it. */
export function openSession<T>(
  context: NodeContext<T>,
  stream: ByteStream,
  admission: Accepted<T>,
): Session<T, NodeRuntime> {
  const { options } = context;
  const { deflate } = admission;
  const link = new ByteLink(stream, {
    maxPayload: options.maxPayload,
    maxFragments: options.maxFragments,
    fragmentSize: options.fragmentSize,
    slabs: context.slabs,
    clock: context.clock,
    compression:
      deflate === undefined ? undefined : connectionZlib(deflate, options.compression!, context.zlib!),
    extensions: deflate?.response ?? "",
  });
  const session = new Session<T, NodeRuntime>(link, context, admission.protocol);
  if (admission.data !== undefined) session.channel.data = admission.data.value;
  return session;
}
