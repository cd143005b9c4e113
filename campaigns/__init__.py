"""The domain: applications, campaigns and rulesets, coupons, budgets, loyalty, customers.

It also holds the services and selectors every interface goes through, the Celery tasks, the
Campaign Manager views (``/app/``) and the admin.
"""
