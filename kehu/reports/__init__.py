"""Sales reports: revenue and gross profit by period, rep, team, product, category,
region and channel; staff hours per customer (人效); new versus existing customers.

Figures are computed by the database (GROUP BY), over booked orders only (confirmed and
fulfilled; returns count negative, drafts and cancelled orders not at all), in CNY:
orders in other currencies are listed beside the figures, never converted. For readers
who see every party the revenue and new-vs-existing figures come from the daily sales
summary (`kehu.sales.summary`, decision 0013), which gives the same answer as the orders
(`selectors.live_revenue_report` reads those; a test compares the two).

Who sees what:
- admins, managers and analysts see the whole firm's figures, whatever their
  visibility (reports are how a firm is managed; analysts read, never write);
- everyone else sees the same reports over the orders and customers their visibility
  gives them (own: the parties they own or serve; team: their teams'), so a
  salesperson's report is their own book of business.

Each report is a `definitions.ReportDefinition` in `definitions.REPORTS`; the pages,
the CSV download and the index read that registry, so a new report (pipeline by stage,
win rate, sales cycle length, once opportunities exist) is a selector, a definition
and an API operation, with no change to the pages.
"""
