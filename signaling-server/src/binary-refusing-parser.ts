/**
 * socket.io's parser, refusing binary attachments. No tabswarm event carries binary, but the
 * stock decoder holds a packet's announced attachments until they all arrive: 20 sockets
 * announcing 10 x 1 MB each held 180 MB. This one throws on any binary packet or frame instead,
 * and socket.io closes that connection.
 */
import { Decoder, Encoder, PacketType } from 'socket.io-parser';

/** Thrown by the decoder; socket.io closes the connection with a parse error. */
export class BinaryRefusedError extends Error {
  override name = 'BinaryRefusedError';
}

/** A parser for `new Server(..., { parser })`; `onRefused` hears each refusal (for the metrics). */
export function binaryRefusingParser(onRefused: () => void): { Encoder: typeof Encoder; Decoder: typeof Decoder } {
  class TextOnlyDecoder extends Decoder {
    override add(obj: unknown): void {
      // A binary packet's header is text: its type digit comes first ("5" event, "6" ack).
      if (typeof obj !== 'string' || obj.startsWith(String(PacketType.BINARY_EVENT)) || obj.startsWith(String(PacketType.BINARY_ACK))) {
        onRefused();
        throw new BinaryRefusedError('binary attachments are refused');
      }
      super.add(obj);
    }
  }
  return { Encoder, Decoder: TextOnlyDecoder };
}
