"""Demo settings. DEMO-VULN: hard-coded credentials (fake values, they grant nothing)."""

AWS_ACCESS_KEY_ID = "AKIAQ4DEMOFAKEKEY7XZ"
AWS_SECRET_ACCESS_KEY = "hQ9v+demo/Fake+Secret+Key+0123456789abcdEF"
API_TOKEN = "ghp_DemoFakeToken0123456789abcdefghijklmn"
