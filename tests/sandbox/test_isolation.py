"""A program cannot make failing tests read as passed: every forgery below must fail.

The tests run in a process of their own and reach the program only through
calls whose results cross as plain data. Each case pairs a forging program
with tests it does not pass honestly; a control shows the same tests pass a
correct program, so the failures are the harness's doing, not broken tests.
"""

from __future__ import annotations

import pytest

from llmcert.sandbox import Outcome, SandboxPolicy, execute

TESTS = "assert f(2) == 4\nassert f(3) == 9\n"
DONE = '{"event": "done", "outcome": "passed", "detail": "", "cpu_seconds": 0.0}\\n'

FORGERIES = {
    "prints the completion record": f"import sys\nsys.stdout.write('{DONE}')\nsys.exit(0)\n",
    "writes the record on every descriptor": (
        "import os\nfor fd in range(3, 1024):\n    try:\n"
        f"        os.write(fd, b'{DONE}')\n    except OSError:\n        pass\n"
        "def f(x):\n    return 0\n"
    ),
    "writes the record, then exits at once": (
        f"import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'{DONE}')\n"
        "    except OSError:\n        pass\nos._exit(0)\n"
    ),
    "exits with status 0 before the tests": "import os\nos._exit(0)\n",
    "raises SystemExit(0) before the tests": "raise SystemExit(0)\n",
    "raises SystemExit(0) when called": "def f(x):\n    raise SystemExit(0)\n",
    "exits from inside the call": "import os\ndef f(x):\n    os._exit(0)\n",
    "patches AssertionError and assert's builtins": (
        "import builtins\nclass Nothing(BaseException):\n    pass\n"
        "builtins.AssertionError = Nothing\nbuiltins.__build_class__ = None\n"
        "def f(x):\n    return 0\n"
    ),
    "returns an object equal to everything": (
        "class Any:\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = object.__hash__\ndef f(x):\n    return Any()\n"
    ),
    "returns an int subclass equal to everything": (
        "class Int(int):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\ndef f(x):\n    return Int(0)\n"
    ),
    "returns a list subclass equal to everything": (
        "class L(list):\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return L()\n"
    ),
    "kills its parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef f(x):\n    return 0\n",
    "kills every process it can": "import os, signal\ndef f(x):\n    os.kill(-1, signal.SIGKILL)\n",
    "stops its parent": "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\ndef f(x):\n    return 0\n",
    "interrupts its parent": "import os, signal\nos.kill(os.getppid(), signal.SIGINT)\ndef f(x):\n    return 0\n",
    "replies on the pipe itself and hangs up": (
        "import os, json, struct\ndef f(x):\n    for fd in range(3, 64):\n        try:\n"
        "            body = json.dumps({'ok': x * x if x == 2 else 0}).encode()\n"
        "            os.write(fd, struct.pack('>Q', len(body)) + body)\n        except OSError:\n"
        "            pass\n    os._exit(0)\n"
    ),
    "sends a malformed reply": (
        "import os\ndef f(x):\n    for fd in range(3, 64):\n        try:\n"
        "            os.write(fd, b'\\x00' * 8)\n        except OSError:\n            pass\n"
        "    return 0\n"
    ),
    "returns a value nested too deep to decode": (
        "def f(x):\n    v = []\n    for _ in range(100000):\n        v = [v]\n    return v\n"
    ),
    "returns a generator for the tests to iterate": "def f(x):\n    yield x * x\n",
}


@pytest.mark.parametrize("program", FORGERIES.values(), ids=list(FORGERIES))
def test_a_forging_program_never_passes(policy: SandboxPolicy, program: str) -> None:
    ex = execute(policy, program, TESTS, entry=("f",))
    assert ex.outcome is not Outcome.PASSED, (ex.detail, ex.stdout[-200:], ex.stderr[-300:])
    assert ex.outcome is not Outcome.SANDBOX_FAILURE, (ex.detail, ex.stderr[-300:])


def test_the_same_tests_pass_an_honest_program(policy: SandboxPolicy) -> None:
    ex = execute(policy, "def f(x):\n    return x * x\n", TESTS, entry=("f",))
    assert ex.outcome is Outcome.PASSED, (ex.detail, ex.stderr[-300:])


def test_a_truthy_object_does_not_satisfy_a_bare_assert(policy: SandboxPolicy) -> None:
    forged = "class T:\n    def __bool__(self):\n        return True\ndef f(x):\n    return T()\n"
    tests = "assert f(1)\n"
    assert execute(policy, forged, tests, entry=("f",)).outcome is Outcome.RUNTIME_ERROR
    assert execute(policy, "def f(x):\n    return True\n", tests, entry=("f",)).passed


def test_the_tests_keep_their_own_builtins(policy: SandboxPolicy) -> None:
    """The program patches ``sorted`` and ``sum``; the tests still use the real ones."""
    forged = (
        "import builtins\nbuiltins.sorted = lambda *a, **k: [1, 2, 3]\n"
        "builtins.sum = lambda *a: 6\ndef f(x):\n    return [9, 3]\n"
    )
    tests = "assert sum(f(0)) == 6 or sorted(f(0)) == [1, 2, 3]\n"
    assert execute(policy, forged, tests, entry=("f",)).outcome is Outcome.FAILED_ASSERTION


def test_a_program_cannot_replace_a_helper_of_the_tests(policy: SandboxPolicy) -> None:
    """HumanEval/50's shape: the tests call the prompt's ``encode_shift``, which is trusted."""
    prelude = (
        "def encode_shift(s):\n    return ''.join(chr((ord(c) - 97 + 5) % 26 + 97) for c in s)\n"
    )
    tests = "for s in ['abc', 'xyz']:\n    assert decode_shift(encode_shift(s)) == s\n"
    forged = "def encode_shift(s):\n    return s\ndef decode_shift(s):\n    return s\n"
    honest = prelude + (
        "def decode_shift(s):\n    return ''.join(chr((ord(c) - 97 - 5) % 26 + 97) for c in s)\n"
    )
    entry = ("decode_shift",)
    assert execute(policy, forged, tests, prelude=prelude, entry=entry).outcome is (
        Outcome.FAILED_ASSERTION
    )
    assert execute(policy, honest, tests, prelude=prelude, entry=entry).passed


def test_a_program_cannot_read_the_expected_answers(policy: SandboxPolicy) -> None:
    """The tests reach the trusted process only after the program's process is forked, and
    never as a file: a program looking for them in every descriptor and file (but the host's
    read-only /usr and /dev) finds nothing."""
    secret = "EXPECTED-7d1c0f"
    search = (
        "import os\nfound = []\n"
        "for fd in range(0, 1024):\n    try:\n        data = os.pread(fd, 1 << 20, 0)\n"
        "    except OSError:\n        continue\n"
        f"    if b'{secret}' in data:\n        found.append(fd)\n"
        "for root, dirs, files in os.walk('/'):\n"
        "    if root == '/':\n        dirs[:] = [d for d in dirs if d not in ('usr', 'dev')]\n"
        "    for name in files:\n        try:\n"
        "            with open(os.path.join(root, name), 'rb') as fh:\n"
        f"                if b'{secret}' in fh.read(1 << 20):\n"
        "                    found.append(os.path.join(root, name))\n"
        "        except OSError:\n            pass\n"
        "print('FOUND', found)\ndef f(x):\n    return 0\n"
    )
    tests = f"assert f(1) == '{secret}'\n"
    big = policy.with_limits(cpu_seconds=20, wall_seconds=60)
    ex = execute(big, search, tests, entry=("f",))
    assert "FOUND []" in ex.stdout, ex.stdout[-300:]
    assert ex.outcome is Outcome.FAILED_ASSERTION


def test_plain_data_round_trips_with_its_types(policy: SandboxPolicy) -> None:
    program = (
        "def f():\n    return [(1, 2.5), {3, 4}, frozenset({5}), {(6, 7): b'\\x00\\xff'}, "
        "bytearray(b'z'), float('inf'), float('-inf'), 1 + 2j, None, True, 10 ** 5000, "
        "'\u00e9\\ud800', -0.0]\n"
        "def g():\n    return float('nan')\n"
    )
    tests = (
        "import math\nv = f()\n"
        "assert v[:5] == [(1, 2.5), {3, 4}, frozenset({5}), {(6, 7): b'\\x00\\xff'}, "
        "bytearray(b'z')]\n"
        "assert [type(x) for x in v[:5]] == [tuple, set, frozenset, dict, bytearray]\n"
        "assert v[5] == math.inf and v[6] == -math.inf and v[7] == 1 + 2j\n"
        "assert v[8] is None and v[9] is True and v[10] == 10 ** 5000\n"
        "assert v[11] == '\u00e9\\ud800' and math.copysign(1, v[12]) == -1\n"
        "assert math.isnan(g())\n"
    )
    ex = execute(policy, program, tests, entry=("f", "g"))
    assert ex.outcome is Outcome.PASSED, (ex.detail, ex.stderr[-300:])


def test_objects_of_the_program_can_be_passed_back(policy: SandboxPolicy) -> None:
    """MBPP's ``Pair`` shape: the tests build the program's objects and hand them back."""
    program = (
        "class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n"
        "def longest(pairs, n):\n    return max(p.b - p.a for p in pairs[:n])\n"
    )
    tests = "p = Pair(1, 5)\np.b = 9\nassert p.a == 1\nassert longest([p, Pair(2, 3)], 2) == 8\n"
    ex = execute(policy, program, tests, entry=("longest",))
    assert ex.outcome is Outcome.PASSED, (ex.detail, ex.stderr[-300:])


def test_exceptions_of_the_program_reach_the_tests_as_builtin_types(policy: SandboxPolicy) -> None:
    program = "def f(x):\n    if x < 0:\n        raise ValueError('negative')\n    return x\n"
    tests = "try:\n    f(-1)\nexcept ValueError as e:\n    assert 'negative' in str(e)\nelse:\n    raise AssertionError\n"
    assert execute(policy, program, tests, entry=("f",)).passed


def test_regular_expression_matches_cross_as_true_values(policy: SandboxPolicy) -> None:
    """MBPP's ``assert text_match(...)`` shape: a match is true, no match (None) is false."""
    program = "import re\ndef f(s):\n    return re.search('ab+', s)\n"
    tests = "m = f('xabbc')\nassert m and m.group(0) == 'abb' and m.span() == (1, 4)\nassert not f('xc')\n"
    assert execute(policy, program, tests, entry=("f",)).passed


def test_tests_get_their_own_copy_of_a_module_they_forgot_to_import(
    policy: SandboxPolicy,
) -> None:
    """MBPP+/596's tests call ``sys.getsizeof`` relying on the program's ``import sys``."""
    program = "import sys\ndef size(t):\n    return sys.getsizeof(t)\n"
    tests = "assert size((1, 2)) == sys.getsizeof((1, 2))\n"
    assert execute(policy, program, tests, entry=("size",)).passed
