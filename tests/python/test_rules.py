"""The worker's status/header rules (rules.py) and its start_response against the vectors that
src/contract/rules.ts is tested with too (tests/unit/contract/rules.test.ts)."""
import json
import os
import unittest

from nodicorn_worker import rules
from nodicorn_worker.worker import Call

VECTORS = os.path.join(os.path.dirname(__file__), "..", "fixtures", "header-rules-vectors.json")


class SharedVectors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(VECTORS) as f:
            cls.vectors = json.load(f)

    def test_statuses(self):
        for v in self.vectors["statuses"]:
            with self.subTest(status=v["status"]):
                got = rules.check_status(v["status"])
                if v["code"] is None:
                    self.assertIsInstance(got, str)
                else:
                    self.assertEqual(got, v["code"])

    def test_header_lists(self):
        for v in self.vectors["headers"]:
            with self.subTest(v["name"]):
                got = rules.check_headers(v["headers"])
                if v["valid"]:
                    self.assertIsNone(got)
                else:
                    self.assertIsInstance(got, str)

    def test_tuples_are_pairs_too(self):
        self.assertIsNone(rules.check_headers([("Content-Type", "text/plain")]))

    def test_remembered_pairs_still_count_repeats(self):
        pair = ("Content-Type", "text/plain")
        self.assertIsNone(rules.check_headers([pair]))
        self.assertIsNone(rules.check_headers([pair]))  # from the memo this time
        self.assertIn("only once", rules.check_headers([pair, ("content-type", "text/html")]))

    def test_unhashable_values_are_refused_not_raised(self):
        self.assertIn("must be a string", rules.check_headers([("X-A", ["b"])]))

    def test_start_response_refuses_what_the_rules_refuse(self):
        for v in self.vectors["headers"]:
            with self.subTest(v["name"]):
                call = Call(None, 1)
                if v["valid"]:
                    call.start_response("200 OK", v["headers"])
                    self.assertEqual(call.status, "200 OK")
                else:
                    with self.assertRaises(rules.InvalidResponse):
                        call.start_response("200 OK", v["headers"])
                    self.assertIsNone(call.status)
        for v in self.vectors["statuses"]:
            with self.subTest(status=v["status"]):
                call = Call(None, 1)
                if v["code"] is None:
                    with self.assertRaises(rules.InvalidResponse):
                        call.start_response(v["status"], [])
                else:
                    call.start_response(v["status"], [])

    def test_a_refused_head_can_be_replaced(self):
        # The app caught the error and answered otherwise: start_response had not taken the bad head.
        call = Call(None, 1)
        with self.assertRaises(rules.InvalidResponse):
            call.start_response("200 OK", [("X-Echo", "a\0Set-Cookie\0session=evil")])
        call.start_response("400 Bad Request", [("Content-Type", "text/plain")])
        self.assertEqual(call.status, "400 Bad Request")

    def test_hop_by_hop_set_matches_typescript(self):
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "src", "contract", "rules.ts")) as f:
            ts = f.read()
        for name in rules.HOP_BY_HOP | rules.SINGLE_VALUE:
            with self.subTest(name):
                self.assertIn("'%s'," % name, ts)


if __name__ == "__main__":
    unittest.main()
