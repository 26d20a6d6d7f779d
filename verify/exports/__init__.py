"""Background exports of a set of cases: the job, the rows it writes, and its pages on the desk.

A small export still streams straight from the case list (`verify.reports.views.export_response`);
a large one becomes an `ExportJob` that a worker writes to a file in storage, in chunks of cases read
with values() and a fixed number of queries, so that neither a proxy's timeout nor memory limits its size.
"""
