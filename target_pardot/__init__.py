"""target-pardot: a Singer target for Salesforce Pardot (Marketing Cloud Account Engagement)."""
