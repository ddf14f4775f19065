"""The Python codec against the golden vectors the TypeScript codec's tests read too."""
import json
import os
import unittest

from nodicorn_worker import protocol

VECTORS = os.path.join(os.path.dirname(__file__), "..", "fixtures", "protocol-vectors.json")


class GoldenVectors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(VECTORS) as f:
            cls.vectors = json.load(f)

    def test_requests_decode_exactly(self):
        for v in self.vectors["requests"]:
            with self.subTest(v["name"]):
                frame = bytes.fromhex(v["frame_hex"])
                length, kind, rid = protocol.FRAME_HEADER.unpack_from(frame)
                self.assertEqual((length + 4, kind, rid), (len(frame), protocol.REQUEST, v["id"]))
                environ, body, path = protocol.decode_request(memoryview(frame)[9:])
                self.assertEqual(environ, v["environ"])
                if v["body_file"] is not None:
                    self.assertEqual((body, path), (None, v["body_file"]))
                else:
                    self.assertEqual(bytes(body), bytes.fromhex(v["body_hex"] or ""))
                    self.assertIsNone(path)

    def test_every_byte_value_survives(self):
        v = [r for r in self.vectors["requests"] if r["name"].startswith("every byte")][0]
        environ, _, _ = protocol.decode_request(memoryview(bytes.fromhex(v["frame_hex"]))[9:])
        self.assertEqual([ord(c) for c in environ["PATH_INFO"]], list(range(256)))

    def test_heads_encode_exactly(self):
        for v in self.vectors["heads"]:
            with self.subTest(v["name"]):
                headers = [tuple(h) for h in v["headers"]]
                self.assertEqual(protocol.encode_head(v["status"], headers).hex(), v["payload_hex"])

    def test_frames_encode_exactly(self):
        for v in self.vectors["frames"]:
            with self.subTest(v["name"]):
                payload = bytes.fromhex(v["payload_hex"])
                self.assertEqual(protocol.frame(v["type"], v["id"], payload).hex(), v["frame_hex"])

    def test_constants_match_the_typescript_side(self):
        ts = open(os.path.join(os.path.dirname(__file__), "..", "..", "src", "bridge", "protocol.ts")).read()
        for name in ("REQUEST", "CANCEL", "CREDIT", "HEAD", "BODY", "END", "WHOLE", "FAIL", "READY", "LOADFAIL", "SOURCES", "FLAG_BODY_IN_FILE"):
            with self.subTest(name):
                self.assertIn("export const %s = 0x%02x;" % (name, getattr(protocol, name)), ts)
        self.assertIn("export const INITIAL_WINDOW = %d;" % protocol.INITIAL_WINDOW, ts)


if __name__ == "__main__":
    unittest.main()
