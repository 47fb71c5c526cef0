"""Line splitting: split UTF-8, carriage returns, CRLF across chunks, huge lines."""

from __future__ import annotations

from colab_wizard.streams import LineSplitter


def split_all(chunks: list[bytes], max_line: int = 64 * 1024) -> list[str]:
    splitter = LineSplitter(max_line)
    lines: list[str] = []
    for chunk in chunks:
        lines += splitter.feed(chunk)
    return lines + splitter.close()


def test_utf8_character_split_between_chunks() -> None:
    data = "héllo wörld ✓\n".encode()
    for cut in range(1, len(data)):
        assert split_all([data[:cut], data[cut:]]) == ["héllo wörld ✓"]


def test_carriage_return_redraws_are_lines() -> None:
    assert split_all([b"10%\r20%\r30%\rdone\n"]) == ["10%", "20%", "30%", "done"]


def test_crlf_split_across_chunks_is_one_break() -> None:
    assert split_all([b"a\r", b"\nb\r\n", b"c"]) == ["a", "b", "c"]
    assert split_all([b"a\r", b"b"]) == ["a", "b"]


def test_no_trailing_newline_and_empty_lines() -> None:
    assert split_all([b"x\n\ny"]) == ["x", "", "y"]
    assert split_all([b""]) == []


def test_long_line_is_cut_not_held() -> None:
    splitter = LineSplitter(max_line=1000)
    out = splitter.feed(b"z" * 2500)
    assert out == ["z" * 1000, "z" * 1000]
    assert splitter.close() == ["z" * 500]


def test_invalid_bytes_are_replaced() -> None:
    assert split_all([b"bad \xff byte\n"]) == ["bad \ufffd byte"]
