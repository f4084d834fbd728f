"""The batch report for chairs and directors: one self-contained HTML page read from what the
runs stored (gather), its charts (charts), the page (html), and a headless browser's screenshot
and PDF of it (browser)."""
