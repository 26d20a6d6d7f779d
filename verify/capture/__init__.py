"""Post capture: a link to a post becomes its media, its facts, a screenshot, a PDF and an archive of the page.

proxy.py holds every connection yt-dlp and Chromium make to the desk's outbound rules; browser.py renders
the page; media.py fetches the post's media and facts with yt-dlp; jobs.py runs a capture as a job on the
workers and records each step's outcome.
"""
